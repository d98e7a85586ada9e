"""Client `anthropic_sdk`: the official SDK's `AsyncAnthropic`, gathered, its retries as shipped.

What most people write first against Anthropic: one `messages.create` per
request, `asyncio.gather` over the batch, and trust in the SDK's retries.
The SDK (the locked `anthropic`, its `_base_client`) retries a 429, a 529
(`overloaded_error`), a 408, a 409 and every 5xx, unless the answer says
`x-should-retry: false`; `max_retries` 2, so three attempts; before each
retry it waits `retry-after-ms`, else `retry-after` (seconds, fractions
allowed), when the server sends one above 0, else 0.5 s doubling (0.5, 1)
up to 8 s, less up to a quarter. After its third attempt it raises
`RateLimitError` and the request is lost. The server's spend-limit 429
carries no `retry-after`: the SDK retries it twice on its backoff and fails
every time. Every HTTP attempt is recorded by a transport wrapped around
the SDK's own (`clients.infra.sdk_batch`).

The SDK's repository's snapshot (0.121.0) obeyed `retry-after` only up to
60 s; the locked 2.x obeys any wait above 0 (capped at 2^32 ms): the model
follows the locked one, which is what runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.attempts import Reply
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "anthropic_sdk"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="Anthropic SDK retries",
    summary="AsyncAnthropic + asyncio.gather, the SDK's retries as shipped (max_retries=2)",
    explain=(
        "Sends the whole batch at once through the official anthropic SDK and leaves 429s to "
        "its retries: three attempts each, spaced by the server's retry-after, the time until "
        "that request would fit. Under buckets that wait is short, so the refused requests "
        "all come back together, most are refused again, and those that find all three "
        "attempts refused are lost."
    ),
    paces=False,
    caps_in_flight=False,
    api="anthropic",
)


async def call(sdk: Any, request: ChatRequest) -> Any:
    from clients.infra.sdk_batch import REQUEST_HEADER

    return await sdk.messages.create(
        **request.body, extra_headers={REQUEST_HEADER: str(request.index)}
    )


def anthropic_sdk(config: ClientConfig, transport: Any, max_retries: int | None) -> Any:
    """`AsyncAnthropic` at the server, over `transport` (`clients.infra.sdk_batch`)."""
    import anthropic

    from clients.infra.llm_batch import base_url

    options: dict[str, Any] = {} if max_retries is None else {"max_retries": max_retries}
    sdk = anthropic.AsyncAnthropic(
        # The SDK insists on a key; a server that issued none checks none.
        api_key=config.api_key or "ratebench",
        base_url=base_url(config),
        http_client=anthropic.DefaultAsyncHttpxClient(transport=transport),
        timeout=config.scaled(config.request_timeout),
        **options,
    )
    _ = sdk.messages
    return sdk


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.sdk_batch import run_sdk_batch

    return run_sdk_batch(NAME, config, call, on_line, make_sdk=anthropic_sdk)


# The SDK's retry policy, restated for theory (the SDK cannot run in virtual
# time): anthropic's `_constants` and `_base_client._calculate_retry_timeout`.
ATTEMPTS = 3  # DEFAULT_MAX_RETRIES 2, plus the first
FIRST_DELAY, MAX_DELAY = 0.5, 8.0  # INITIAL_RETRY_DELAY, MAX_RETRY_DELAY


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): three attempts, each 429 followed
    by the server's retry-after when it sent one above 0, else 0.5 s doubling up to 8 s,
    less up to a quarter; a refusal said to be final is not retried. Wall seconds, as
    the SDK's."""
    from clients.infra.virtual import retrying

    def wait(retry: int, reply: Reply) -> float:
        after = reply.reopens_in
        if after is not None and after > 0:
            return after
        return min(FIRST_DELAY * 2.0 ** (retry - 1), MAX_DELAY) * (1 - 0.25 * batch.rng.random())

    return [retrying(i, ATTEMPTS, wait) for i in range(len(batch.charges))]
