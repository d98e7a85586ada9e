"""A library's own limiter, awaited before every attempt.

For the leaderboard's pure limiters (pyrate-limiter, limits, LangChain's
`InMemoryRateLimiter`): the library decides when an attempt may go, and the
request loop (`clients.infra.loop`) sends, records and retries around it as
it does for every client. The library's wait is an `Await` step, which only
the asyncio driver carries out: none of them runs in the simulator.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from clients.infra.steps import Await, Steps
from clients.limiters.base import Clock, Limiter

#: The library's wait for one attempt (returns when it may go).
Acquire = Callable[[], Awaitable[object]]


class LibraryLimiter(Limiter):
    """Awaits `acquire()` before every attempt, retries included; returns the
    seconds it waited on `clock`."""

    def __init__(self, acquire: Acquire, clock: Clock = time.monotonic) -> None:
        self.acquire_once = acquire
        self.clock = clock

    def acquire(self) -> Steps[float]:
        start = self.clock()
        yield Await(self.acquire_once)
        return self.clock() - start

    def __repr__(self) -> str:
        return f"<LibraryLimiter {self.acquire_once!r}>"
