"""A gate that a 429 closes for every request until the server's window reopens."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


class ReopenGate:
    """Shared by all of a batch's tasks; an `AsyncLimiter` (acquire/release).

    `close_for(seconds)` shuts the gate until `seconds` (wall, as the server
    said) plus `margin` from now; the gate only ever moves its reopening
    later. `acquire` waits while it is shut, re-checking after each sleep
    because another 429 may have pushed the reopening back meanwhile.
    `clock` and `sleep` are attributes so tests can fake time.
    """

    def __init__(
        self, margin: float, *, clock: Clock = time.monotonic, sleep: AsyncSleep = asyncio.sleep
    ) -> None:
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0 seconds, got {margin}")
        self.margin = margin
        self.clock = clock
        self.sleep = sleep
        self.opens_at = -math.inf
        self.closed = 0  # how many times a 429 closed (or kept closed) the gate

    def close_for(self, seconds: float) -> None:
        self.closed += 1
        self.opens_at = max(self.opens_at, self.clock() + seconds + self.margin)

    async def acquire(self) -> float:
        start = self.clock()
        while (wait := self.opens_at - self.clock()) > 0:
            await self.sleep(wait)
        return self.clock() - start

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        shut = self.opens_at - self.clock()
        state = f"shut for {shut:.3f} s" if shut > 0 else "open"
        return f"<ReopenGate {state}, closed {self.closed} times, margin {self.margin:g} s>"
