"""Client `gemini_sdk`: the official `google-genai` SDK, gathered, as shipped: one attempt.

What most people write first: one `client.aio.models.generate_content` per
request, `asyncio.gather` over the batch. The SDK's default is no retry at
all (`_api_client.retry_args`: without `HttpRetryOptions`, tenacity's
`stop_after_attempt(1)`), so every 429 is an `APIError` and its request is
lost. Every HTTP attempt is recorded by a transport wrapped around the SDK's
own (`clients.infra.gemini_batch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "gemini_sdk"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="SDK retries",
    summary="google-genai client.aio + asyncio.gather, as shipped (one attempt, no retry)",
    explain=(
        "Sends the whole batch at once through the official SDK, whose default is a single "
        "attempt: every request refused by a quota is lost. Only the first minute's RPM "
        "(and ITPM) worth of requests is answered."
    ),
    paces=False,
    caps_in_flight=False,
    api="gemini",
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.gemini_batch import run_genai_batch

    return run_genai_batch(NAME, config, None, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it: one attempt per request."""
    from clients.infra.virtual import retrying

    return [retrying(i, 1, lambda retry, reply: 0.0) for i in range(len(batch.charges))]
