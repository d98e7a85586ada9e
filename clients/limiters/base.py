"""The limiting policy as a plug-in, separate from the concurrency model.

A limiter has three hooks, called around every HTTP attempt (retries
included) by the request loop (`clients.infra.loop`):

- `acquire()`, before the attempt is sent: a generator of steps
  (`clients.infra.steps`) that returns the seconds it waited;
- `release()`, once the attempt has finished, whatever the outcome;
- `observe(reply)`, with what the attempt came back with.

A token bucket only needs the first, a semaphore ("at most N at once") the
first two, a gate that a 429 closes the first and the last. The loop calls
them and never asks which limiter it holds, and the asyncio driver, the
thread driver and the simulator all run the same limiter code, so a new
client is a new pairing of a limiter and a driver.

Limiters read time only through their `clock` (seconds, the driver's:
time.monotonic() for the real drivers, virtual time in the simulator), an
attribute so that tests can fake it. Code between two yields runs
atomically under every driver (see `clients.infra.steps`), so no limiter
needs a lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from clients.infra.steps import Await, Park, Steps, Waiters

if TYPE_CHECKING:
    import aiolimiter

    from clients.infra.attempts import Reply

Clock = Callable[[], float]


class Limiter:
    """No limit: every attempt goes at once. The base of every limiter."""

    def acquire(self) -> Steps[float]:
        """Wait, in steps, until an attempt may go; returns the seconds waited."""
        yield from ()
        return 0.0

    def release(self) -> None:
        """The attempt that acquired has finished."""

    def observe(self, reply: Reply) -> None:
        """What the attempt that acquired came back with (after `release`)."""

    def on_wire(self) -> Callable[[], None] | None:
        """Asked right after `acquire` let an attempt go: a callback for the moment
        its request reaches the wire (the transport calls it, if it can tell), or
        None. A limiter that paces on when requests really went out wants it."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class NoLimit(Limiter):
    """Every attempt goes as soon as its request (or its pool thread) is ready."""


class Semaphore(Limiter):
    """At most `slots` attempts in flight, like a pool of `slots` threads.

    Held for one attempt only: a request sleeping before its retry holds no
    slot, where a pool thread would stay blocked in its sleep. A released
    slot goes straight to the longest waiter, as asyncio.Semaphore hands it.
    """

    def __init__(self, slots: int, clock: Clock = time.monotonic) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self.free = slots
        self.clock = clock
        self.waiters = Waiters()

    def acquire(self) -> Steps[float]:
        if self.free > 0:
            self.free -= 1
            return 0.0
        start = self.clock()
        park = Park(self.waiters)
        try:
            yield park  # `release` hands its slot over and wakes us
        except GeneratorExit:
            # Abandoned while waiting (asyncio: the run's deadline). A slot
            # already handed to us goes on to the next waiter.
            if park.woken:
                self.release()
            else:
                self.waiters.discard(park)
            raise
        return self.clock() - start

    def release(self) -> None:
        if not self.waiters.wake_one():
            self.free += 1

    def __repr__(self) -> str:
        return f"<Semaphore free={self.free}/{self.slots} waiters={len(self.waiters)}>"


class LeakyBucketLimiter(Limiter):
    """aiolimiter's `AsyncLimiter` (a leaky bucket) acquired before every attempt.

    Unlike the write-up's bucket it starts with room for `max_rate`
    acquisitions, so the first `max_rate` attempts go at once. aiolimiter is
    asyncio-only: its wait is an `Await` step, which only the asyncio driver
    carries out.
    """

    def __init__(self, limiter: aiolimiter.AsyncLimiter, clock: Clock = time.monotonic) -> None:
        self.limiter = limiter
        self.clock = clock

    def acquire(self) -> Steps[float]:
        start = self.clock()
        yield Await(self.limiter.acquire)
        return self.clock() - start

    def __repr__(self) -> str:
        return f"<LeakyBucketLimiter {self.limiter!r}>"
