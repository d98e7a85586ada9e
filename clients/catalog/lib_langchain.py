"""Client `lib_langchain`: LangChain's `InMemoryRateLimiter`, told the requests per minute.

langchain-core's rate limiter (https://python.langchain.com/docs/how_to/chat_model_rate_limiting/,
and the class's docstring) is what a chat model calls before each request
(`ChatOpenAI(rate_limiter=...)`): `await rate_limiter.aacquire()`. It is a
token bucket of requests, and says so: "It does not take into account the
size of the request". Told `requests_per_second = RPM / 60`, with its
defaults `check_every_n_seconds=0.1` (scaled with the time scale, as every
duration) and `max_bucket_size=1`: it starts empty and lets one request go
every 60/RPM seconds.

It cannot be told tokens per minute: when tokens bind, the server refuses
what the bucket lets through, and the bench's retries carry the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_langchain"
CHECK_EVERY = 0.1  # InMemoryRateLimiter's default, in seconds

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="LangChain's InMemoryRateLimiter(requests_per_second=RPM/60): requests only",
    explain=(
        "LangChain's limiter is a bucket of one request refilled at RPM/60 a second, checked "
        "every 0.1 s: it paces the requests evenly, one every 60/RPM s, and never bursts. It "
        "counts requests, not tokens, so when tokens bind the server refuses what it lets go."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="InMemoryRateLimiter is a library's code; the simulator runs only ours",
    api="openai",
    library="langchain-core",
    cannot_express=("tokens",),
)


def library_calls(config: ClientConfig) -> Callable[[int], Awaitable[object]]:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    from clients.infra.library_batch import minute, told

    rpm, _ = told(NAME, config)
    rate_limiter = InMemoryRateLimiter(
        requests_per_second=rpm / minute(config),
        check_every_n_seconds=config.scaled(CHECK_EVERY),
    )

    async def acquire(charge: int) -> None:
        await rate_limiter.aacquire()  # it has no way to be told `charge`

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    import langchain_core.rate_limiters  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_completions

    return run_completions(NAME, config, library_calls, on_line)
