"""The write-up's token bucket with its waiters in a queue: one wake-up per token.

The write-up's bucket (`clients.limiters.bucket`) lets every waiter sleep
`(need - tokens) / rate` and try again, so each token wakes every waiter
and all but one go back to sleep: n(n + 1)/2 wake-ups for n requests that
start together. At 2,000 requests that is two million timer callbacks, and
the CPU they eat makes the pace sag below the rate.

`FifoBucket` keeps the bucket itself exactly (rate, capacity, whole tokens,
starts with `initial_tokens`, `last_update` moved only when a token is
added: the same `_take`), so a batch that starts together is granted its
tokens at the same instants. Only the waiting differs: waiters take turns
first come, first served (a `Semaphore` of one slot, whose parked waiters
are a FIFO queue of futures under asyncio). Only the one whose turn it is sleeps until its token, so
there is one timer at a time; when it has its token it hands the turn to
the next waiter, which is the one wake-up that token costs. That waiter
sleeps until its token is due, where the write-up's waiters sleep a whole
interval from whenever they looked: so a late arrival is not held a
fraction of an interval more, and the little time the hand-over takes is
not added to every token.
"""

from __future__ import annotations

import time

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Semaphore
from clients.limiters.bucket import TokenBucket

# A wait shorter than a nanosecond is float rounding (as in clients.limiters.sliding_log).
ROUNDING = 1e-9


class FifoBucket(TokenBucket):
    """The write-up's bucket, served in order of arrival, one waiter awake at a time.

    `rate` in tokens per second of `clock`, `capacity` and `initial_tokens`
    in whole tokens, as for `TokenBucket`; `clock` (seconds, monotonic) an
    attribute so tests can fake time.
    """

    def __init__(
        self, rate: float, capacity: int, initial_tokens: int = 0, *, clock: Clock = time.monotonic
    ) -> None:
        super().__init__(rate, capacity, initial_tokens, clock=clock)
        self._turn = Semaphore(1, clock=clock)

    def __repr__(self) -> str:
        return (
            f"<FifoBucket tokens={self.tokens}/{self.capacity} rate={self.rate:g}/s "
            f"waiters={self.waiters}>"
        )

    def acquire(self, need: int = 1) -> Steps[float]:
        """Wait for the turn, then until `need` whole tokens are there; take them.

        Returns the seconds spent waiting. A waiter abandoned by its driver
        (cancelled) takes no tokens and passes its turn on.
        """
        if not 1 <= need <= self.capacity:
            raise ValueError(f"need must be between 1 and capacity ({self.capacity}), got {need}")
        start = self.clock()
        self.waiters += 1
        try:
            yield from self._turn.acquire()
            try:
                while True:
                    now, wait = self._take(need)
                    if wait == 0.0:
                        return now - start
                    # The only timer: everyone behind us is parked, not sleeping.
                    # It rings when the token is due (the write-up's wait, less
                    # the part of a token already accrued since the last refill),
                    # not a whole interval after the turn reached us: the turn
                    # comes a little after the last grant (that waiter's send
                    # runs first), and a full interval from then would drop
                    # that little at every token. A float rounding that leaves
                    # the token a hair short at its due time costs a nanosecond.
                    yield Sleep(max(wait - (now - self.last_update), ROUNDING))
            finally:
                # Hands the turn straight to the longest waiter: one wake-up.
                self._turn.release()
        finally:
            self.waiters -= 1
