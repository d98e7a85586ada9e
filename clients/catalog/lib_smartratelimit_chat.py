"""Client `lib_smartratelimit_chat`: smartratelimit's `AsyncRateLimiter` on the write-up's `/chat`.

The README's "Async Support with aiohttp" with its zero configuration
(https://olaverse-labs.github.io/smartratelimit/): `AsyncRateLimiter()` and
`await limiter.arequest_aiohttp(session, "GET", url)` per request. slowapi
sends `X-RateLimit-Limit`, `-Remaining` and `-Reset` (a Unix time), the
generic headers it detects; a 429 it retries itself after `Retry-After`,
three attempts in all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    import aiohttp

    from clients.infra.llm_batch import ChatRequest
    from clients.infra.traced_batch import Call

NAME = "lib_smartratelimit_chat"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library client",
    summary="smartratelimit's AsyncRateLimiter().arequest_aiohttp, limit learned from headers",
    explain=(
        "Told nothing, it sends the first calls blind, learns the limit from slowapi's "
        "X-RateLimit-* headers and paces through a token bucket of that size; a 429 it "
        "retries itself after Retry-After, three attempts in all, and a request refused three "
        "times is lost."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="smartratelimit learns and paces inside its own code; the simulator runs only ours",
    library="smartratelimit",
)


def library_calls(config: ClientConfig) -> Call:
    from smartratelimit import AsyncRateLimiter

    limiter = AsyncRateLimiter()

    async def call(
        session: aiohttp.ClientSession, trace: dict[str, Any], request: ChatRequest | None
    ) -> int:
        response = await limiter.arequest_aiohttp(
            session, "GET", config.url, trace_request_ctx=trace
        )
        return int(response.status)

    return call


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or was lost."""
    import logging

    import smartratelimit  # noqa: F401  (imported before the batch's clock starts)

    # It logs every 429 and every wait at WARNING; the bench's records say the same.
    logging.getLogger("smartratelimit").setLevel(logging.ERROR)

    from clients.infra.traced_batch import run_traced_batch

    return run_traced_batch(NAME, config, library_calls, None, on_line)
