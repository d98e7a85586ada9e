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

    from clients.infra.attempts import Reply
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

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
    api="openai",
    library="openai",
)


async def call(sdk: openai.AsyncOpenAI, request: ChatRequest) -> Any:
    from clients.infra.sdk_batch import create_kwargs

    return await sdk.chat.completions.create(**create_kwargs(request))


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.sdk_batch import run_sdk_batch

    return run_sdk_batch(NAME, config, call, on_line)


# The SDK's retry policy, restated for theory (the SDK cannot run in virtual
# time): openai-python's `_constants` and `_base_client._calculate_retry_timeout`.
ATTEMPTS = 3  # DEFAULT_MAX_RETRIES 2, plus the first
FIRST_DELAY, MAX_DELAY = 0.5, 8.0  # INITIAL_RETRY_DELAY, MAX_RETRY_DELAY
MAX_RETRY_AFTER = 120.0  # MAX_RETRY_AFTER_DELAY: a longer retry-after is not obeyed


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): three attempts, each 429 followed
    by the server's retry-after when it is above 0 and at most two minutes, else
    0.5 s doubling up to 8 s, less up to a quarter. Wall seconds, as the SDK's."""
    from clients.infra.virtual import retrying

    def wait(retry: int, reply: Reply) -> float:
        after = reply.reopens_in
        if after is not None and 0 < after <= MAX_RETRY_AFTER:
            return after
        return min(FIRST_DELAY * 2.0 ** (retry - 1), MAX_DELAY) * (1 - 0.25 * batch.rng.random())

    return [retrying(i, ATTEMPTS, wait) for i in range(len(batch.charges))]
