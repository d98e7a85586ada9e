"""Client `lib_limits_chat`: `lib_limits`' moving window on the write-up's `/chat`.

limits' async `MovingWindowRateLimiter` on its `MemoryStorage`, told L per
T: `hit`, and when it refuses, sleep until the reset time
`get_window_stats` reports (https://limits.readthedocs.io, "Strategies").
T must be a whole number of wall seconds (limits' granularity).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_limits_chat"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="limits' async MovingWindowRateLimiter: hit, else sleep to the reset time",
    explain=(
        "limits' moving window admits at most L hits in any rolling T and says when the "
        "oldest leaves it; a refused hit sleeps until then. It keeps no margin for the time a "
        "send takes to reach the server's limiter."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="limits' strategies are a library's code; the simulator runs only ours",
    library="limits",
)


def library_calls(config: ClientConfig) -> Callable[[], Awaitable[object]]:
    import asyncio
    import time

    from limits import RateLimitItemPerSecond
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    from clients.catalog.lib_limits import whole_seconds

    seconds = whole_seconds(NAME, config.scaled(config.capacity / config.rate))
    limiter = MovingWindowRateLimiter(MemoryStorage())
    limit = RateLimitItemPerSecond(config.capacity, seconds)

    async def acquire() -> None:
        while not await limiter.hit(limit, "chat"):
            stats = await limiter.get_window_stats(limit, "chat")
            await asyncio.sleep(max(0.001, stats.reset_time - time.time()))

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    import limits.aio.strategies  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_chat

    return run_chat(NAME, config, library_calls, on_line)
