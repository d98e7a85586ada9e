"""Client `lib_smartratelimit`: smartratelimit's `AsyncRateLimiter`, limits learned from headers.

As smartratelimit's README shows it (https://olaverse-labs.github.io/smartratelimit/,
"Async Support with aiohttp", "Multi-Dimensional Limits"): one
`AsyncRateLimiter()` and, per call, `await limiter.arequest_aiohttp(session,
"POST", url, json=body, cost={"tokens": estimated_tokens})`. "OpenAI's and
Anthropic's token headers are detected automatically ... you only need
set_limit for APIs that don't advertise", and this server advertises them,
so nothing else is set: the limiter learns both limits from the
`x-ratelimit-*` headers of the first answers, paces later calls through its
token buckets (storage "memory"), and retries a 429 itself (its default:
three attempts, waiting the server's Retry-After, capped at 60 s).

The whole batch is handed to it at once, before any answer has told it a
limit. Its retry waits are wall seconds, not scaled: at a compressed time
scale a Retry-After rounded up to a whole second is a longer wait than the
scenario's.
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

NAME = "lib_smartratelimit"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library client",
    summary="smartratelimit's AsyncRateLimiter().arequest_aiohttp, limits learned from headers",
    explain=(
        "Told nothing, it sends the first calls blind, reads the requests and tokens per "
        "minute from the x-ratelimit-* headers, and from then on paces through token buckets "
        "of those sizes, refilled continuously; a 429 it retries itself after the server's "
        "Retry-After, three attempts in all, and a request refused three times is lost."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="smartratelimit learns and paces inside its own code; the simulator runs only ours",
    api="openai",
    library="smartratelimit",
)


def library_calls(config: ClientConfig) -> Call:
    from smartratelimit import AsyncRateLimiter

    from clients.infra.llm_batch import endpoint_url

    url = endpoint_url(config)
    limiter = AsyncRateLimiter()

    async def call(
        session: aiohttp.ClientSession, trace: dict[str, Any], request: ChatRequest | None
    ) -> int:
        assert request is not None
        response = await limiter.arequest_aiohttp(
            session,
            "POST",
            url,
            json=request.body,
            cost={"tokens": request.charge or 0},
            trace_request_ctx=trace,
        )
        return int(response.status)

    return call


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    import logging

    import smartratelimit  # noqa: F401  (imported before the batch's clock starts)

    # It logs every 429 and every wait at WARNING; the bench's records say the same.
    logging.getLogger("smartratelimit").setLevel(logging.ERROR)

    from clients.infra.llm_batch import load_request_set
    from clients.infra.traced_batch import run_traced_batch

    return run_traced_batch(NAME, config, library_calls, load_request_set(config), on_line)
