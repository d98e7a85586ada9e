"""Client `openai_sdk`: the official SDK's `AsyncOpenAI`, gathered, its retries as shipped.

What most people write first: one `chat.completions.create` per request,
`asyncio.gather` over the batch, and trust in the SDK's retries. The SDK
(its default `max_retries`, 2) retries a 429 after `retry-after-ms` when the
server sends it, else after 0.5 s doubling with jitter; after its third
attempt it raises `RateLimitError` and the request is lost. Every HTTP
attempt is recorded by a transport wrapped around the SDK's own
(`clients.infra.sdk_batch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    import openai

    from clients.infra.openai_batch import ChatRequest

NAME = "openai_sdk"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="SDK retries",
    summary="AsyncOpenAI + asyncio.gather, the SDK's retries as shipped (max_retries=2)",
    explain=(
        "Sends the whole batch at once through the official SDK and leaves 429s to its "
        "retries: each request gets three attempts, spaced by the server's retry-after. When "
        "the batch is larger than a minute's budget, the requests that find every retry "
        "refused are lost."
    ),
    paces=False,
    caps_in_flight=False,
    model=None,
    # Theory's model of it is in bench.two_limit_sim (the spec's model is /chat's).
    no_model=(
        "a model only on the OpenAI-compatible endpoint's fixed window (bench.two_limit_sim "
        "runs the SDK's retry policy there)"
    ),
    api="openai",
)


async def call(sdk: openai.AsyncOpenAI, request: ChatRequest) -> Any:
    from clients.infra.sdk_batch import create_kwargs

    return await sdk.chat.completions.create(**create_kwargs(request))


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.sdk_batch import run_sdk_batch

    return run_sdk_batch(NAME, config, call, on_line)
