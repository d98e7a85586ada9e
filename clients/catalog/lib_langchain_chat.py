"""Client `lib_langchain_chat`: LangChain's `InMemoryRateLimiter` on the write-up's `/chat`.

`InMemoryRateLimiter(requests_per_second=rate)` with its defaults
(`check_every_n_seconds=0.1`, scaled; `max_bucket_size=1`), awaited before
every attempt (`await rate_limiter.aacquire()`, as a LangChain chat model
does before each call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_langchain_chat"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="LangChain's InMemoryRateLimiter(requests_per_second=rate), bucket of 1",
    explain=(
        "A bucket of one request that starts empty and refills at the rate, checked every "
        "0.1 s: one send every 1/rate s, the first after 1/rate, never a burst; the polling "
        "adds up to 0.1 s to each."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="InMemoryRateLimiter is a library's code; the simulator runs only ours",
    library="langchain-core",
)


def library_calls(config: ClientConfig) -> Callable[[], Awaitable[object]]:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    from clients.catalog.lib_langchain import CHECK_EVERY

    rate_limiter = InMemoryRateLimiter(
        requests_per_second=config.rate / config.time_scale,
        check_every_n_seconds=config.scaled(CHECK_EVERY),
    )

    async def acquire() -> None:
        await rate_limiter.aacquire()

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    import langchain_core.rate_limiters  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_chat

    return run_chat(NAME, config, library_calls, on_line)
