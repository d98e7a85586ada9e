"""The write-up's token bucket, written once for every driver, with time made injectable.

The algorithm is reproduced as the write-up wrote it, because its quirks are
part of what ratebench measures and teaches:

- the bucket starts with `initial_tokens` (0 by default, as in the write-up),
  so the first token arrives only after 1/rate seconds;
- it refills whole tokens only, `int(elapsed * rate)`, and moves
  `last_update` only when at least one token was added, so fractions of a
  token are never lost while the bucket waits;
- a waiter short of tokens sleeps `(need - tokens) / rate` seconds and then
  tries again, like everyone else: every waiter wakes for every token, and
  all but one go back to sleep.

With rate 2/s and capacity 2 this gives "first send at 0.5 s, then one every
0.5 s": the bucket never builds a burst while there are waiters.

The write-up held an `asyncio.Lock` around each read-modify-write of the
tokens. Here `acquire` is a generator of steps, and the code between two
of its yields runs atomically under every driver (`clients.infra.steps`):
the asyncio client (`token_bucket`), the thread client (`threads_bucket`)
and the simulator all run this one class.
"""

from __future__ import annotations

import time

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter


class TokenBucket(Limiter):
    """A token bucket shared by a batch's requests; `acquire` takes one token per attempt.

    `rate` is in tokens per second of `clock` (wall seconds for the clients,
    which divide the scenario's rate by their time scale; scenario seconds
    in the simulator); `capacity` and `initial_tokens` are whole tokens.
    `clock` (seconds, monotonic) is an attribute so tests can fake time.
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
            f"<TokenBucket tokens={self.tokens}/{self.capacity} rate={self.rate:g}/s "
            f"waiters={self.waiters}>"
        )

    def acquire(self, need: int = 1) -> Steps[float]:
        """Wait until `need` whole tokens are available and take them.

        Returns the seconds spent waiting (0.0 if the tokens were there). A
        waiter abandoned by its driver (cancelled) takes no tokens.
        """
        if not 1 <= need <= self.capacity:
            raise ValueError(f"need must be between 1 and capacity ({self.capacity}), got {need}")
        start = self.clock()
        self.waiters += 1
        try:
            while True:
                now, wait = self._take(need)
                if wait == 0.0:
                    return now - start
                # Every other waiter checks the bucket meanwhile; they find
                # it as empty and sleep too.
                yield Sleep(wait)
        finally:
            self.waiters -= 1

    def _refill(self, now: float) -> None:
        new_tokens = int((now - self.last_update) * self.rate)
        if new_tokens > 0:
            self.tokens = min(self.capacity, self.tokens + new_tokens)
            # Only moved when a whole token was added: a partial token keeps
            # accumulating from the old timestamp instead of being dropped.
            self.last_update = now

    def _take(self, need: int) -> tuple[float, float]:
        """One pass of the write-up's loop.

        Returns (now, seconds to sleep): 0.0 seconds if the tokens were taken,
        else `(need - tokens) / rate`, after which the caller tries again.
        """
        now = self.clock()
        self._refill(now)
        if self.tokens >= need:
            self.tokens -= need
            return now, 0.0
        return now, (need - self.tokens) / self.rate
