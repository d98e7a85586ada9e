"""The write-up's asyncio token bucket, with time made injectable.

The algorithm is reproduced as the write-up wrote it, because its quirks are
part of what ratebench measures:

- the bucket starts with `initial_tokens` (0 by default, as in the write-up),
  so the first token arrives only after 1/rate seconds;
- it refills whole tokens only, `int(elapsed * rate)`, and moves
  `last_update` only when at least one token was added, so fractions of a
  token are never lost while the bucket waits;
- a waiter short of tokens sleeps `(need - tokens) / rate` seconds and then
  tries again, behind the same lock as everyone else.

With rate 2/s and capacity 2 this gives "first send at 0.5 s, then one every
0.5 s": the bucket never builds a burst while there are waiters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


class BucketState:
    """The write-up's bucket arithmetic, without a lock or a way to wait.

    `TokenBucket` (asyncio) and `clients.limiters.thread_bucket.ThreadTokenBucket`
    (threads) add those two, so both concurrency models run the very same
    refill and take rules. `rate` is in tokens per wall-clock second;
    `capacity` and `initial_tokens` are whole tokens; `clock` reads seconds
    on a monotonic clock and is an attribute so tests can fake time.
    """

    def __init__(
        self, rate: float, capacity: int, initial_tokens: int = 0, *, clock: Clock = time.monotonic
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be greater than 0 tokens per second, got {rate}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 token, got {capacity}")
        if not 0 <= initial_tokens <= capacity:
            raise ValueError(
                f"initial_tokens must be between 0 and capacity ({capacity}), got {initial_tokens}"
            )
        self.rate = rate
        self.capacity = capacity
        self.tokens = initial_tokens
        self.clock = clock
        self.last_update = clock()
        self.waiters = 0

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} tokens={self.tokens}/{self.capacity} rate={self.rate:g}/s "
            f"waiters={self.waiters}>"
        )

    def _check_need(self, need: int) -> None:
        if not 1 <= need <= self.capacity:
            raise ValueError(f"need must be between 1 and capacity ({self.capacity}), got {need}")

    def _refill(self, now: float) -> None:
        new_tokens = int((now - self.last_update) * self.rate)
        if new_tokens > 0:
            self.tokens = min(self.capacity, self.tokens + new_tokens)
            # Only moved when a whole token was added: a partial token keeps
            # accumulating from the old timestamp instead of being dropped.
            self.last_update = now

    def _take(self, need: int) -> tuple[float, float]:
        """One pass of the write-up's loop; call it under the subclass's lock.

        Returns (now, seconds to sleep): 0.0 seconds if the tokens were taken,
        else `(need - tokens) / rate`, after which the caller tries again.
        """
        now = self.clock()
        self._refill(now)
        if self.tokens >= need:
            self.tokens -= need
            return now, 0.0
        return now, (need - self.tokens) / self.rate


class TokenBucket(BucketState):
    """A token bucket for asyncio tasks.

    `rate` is in tokens per wall-clock second (a caller working in scenario
    seconds divides by its time scale first); `capacity` and
    `initial_tokens` are whole tokens. `clock` (seconds, monotonic) and
    `sleep` are attributes so tests can replace them with fake time.
    """

    def __init__(
        self,
        rate: float,
        capacity: int,
        initial_tokens: int = 0,
        *,
        clock: Clock = time.monotonic,
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        super().__init__(rate, capacity, initial_tokens, clock=clock)
        self.sleep = sleep
        # Every read-modify-write of tokens/last_update happens under this lock
        # (the write-up's tip 1). asyncio.Lock binds to a loop only when first
        # contended, so the bucket may be built outside a running loop.
        self._lock = asyncio.Lock()

    async def acquire(self, need: int = 1) -> float:
        """Wait until `need` whole tokens are available and take them.

        Returns the seconds spent waiting (0.0 if the tokens were there).
        Blocks the calling task, never the loop. Cancelling the task while it
        waits takes no tokens.
        """
        self._check_need(need)
        start = self.clock()
        self.waiters += 1
        try:
            while True:
                async with self._lock:
                    now, wait = self._take(need)
                if wait == 0.0:
                    return now - start
                # Sleep outside the lock so other tasks can check the bucket
                # meanwhile; they will find it as empty and sleep too.
                await self.sleep(wait)
        finally:
            self.waiters -= 1
