"""The steps a request loop or a limiter yields, and the drivers carry out.

The retry loop (`clients.infra.loop`) and every limiter of our own
(`clients.limiters`) are written once, as generators that never sleep,
send or wait themselves: they yield one of these steps and are resumed
when it is done. Three drivers carry the steps out:

- asyncio (`clients.infra.async_batch`): one task per generator;
- threads (`clients.infra.thread_batch`): one thread per generator;
- the simulator (`bench.theory.simulate`): virtual time, against a server model.

So theory runs the very policy code the clients run.

The steps, and what the generator is resumed with:

- `Sleep(seconds)`: the driver's seconds (wall seconds in the real
  drivers, scenario seconds in the simulator); resumed with None.
- `Send(request, attempt)`: one HTTP attempt; resumed with its `Reply`.
- `Park(queue)`: wait, in `queue`, until some other generator's code calls
  `queue.wake_one()`; resumed with None.
- `Await(make)`: await `make()` and resume with its result. Only the
  asyncio driver can: it is for limiters built on asyncio-only libraries
  (aiolimiter, redis.asyncio); the other drivers refuse it.

Atomicity: the code a generator runs between two yields runs as one step
under every driver, as if under one lock shared by the whole batch. asyncio
gives it for free (nothing awaits between yields), the simulator too (one
event at a time), and the thread driver holds one lock while it advances
any generator and lets go of it only while a thread sleeps, sends or is
parked. That is what the write-up's `asyncio.Lock` around its bucket's
read-modify-write gave, here for every driver and every limiter at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sleep:
    """Resume after `seconds` of the driver's clock (never less)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """Send attempt `attempt` (0 for the first try) of request `request`; resume with its Reply.

    `on_wire`: the limiter's callback for the moment the request reaches the
    wire, for a transport that can tell (after any wait for a connection);
    None if the limiter does not ask.
    """

    request: int
    attempt: int
    on_wire: Callable[[], None] | None = field(default=None, compare=False)


class Park:
    """Wait in `queue` until woken (`Waiters.wake_one`), first come, first served.

    Not frozen: `woken` tells a generator abandoned while parked (its driver
    closed it) whether it had already been handed what it waited for.
    """

    __slots__ = ("queue", "woken")

    def __init__(self, queue: Waiters) -> None:
        self.queue = queue
        self.woken = False

    def __repr__(self) -> str:
        return f"<Park woken={self.woken}>"


@dataclass(frozen=True, slots=True)
class Await:
    """Await `make()` and resume with its result: asyncio driver only."""

    make: Callable[[], Awaitable[Any]]


Step = Sleep | Send | Park | Await
#: A generator of steps that finally returns a T (a limiter's `acquire` returns
#: the seconds it waited; a request loop, whether a request succeeded).
Steps = Generator[Step, Any, T]


class Waiters:
    """Generators parked on one thing (a semaphore's slots), in order of arrival.

    The driver that carries out a `Park` registers it with `park`, giving
    the callback that resumes it; whoever frees the thing calls `wake_one`.
    """

    def __init__(self) -> None:
        self._parked: deque[tuple[Park, Callable[[], None]]] = deque()

    def __len__(self) -> int:
        return len(self._parked)

    def __repr__(self) -> str:
        return f"<Waiters parked={len(self._parked)}>"

    def park(self, step: Park, wake: Callable[[], None]) -> None:
        """Called by a driver: `wake()` resumes the generator that yielded `step`.

        `wake` is called from inside another generator's step, so it must
        only schedule the resumption, never run it.
        """
        self._parked.append((step, wake))

    def wake_one(self) -> bool:
        """Resume the longest-parked generator; False if none is parked."""
        if not self._parked:
            return False
        step, wake = self._parked.popleft()
        step.woken = True
        wake()
        return True

    def discard(self, step: Park) -> bool:
        """Forget a parked step that will never resume; False if it was woken already."""
        for entry in self._parked:
            if entry[0] is step:
                self._parked.remove(entry)
                return True
        return False


def unsupported(step: Step, driver: str) -> TypeError:
    """The error a driver raises for a step it cannot carry out."""
    return TypeError(f"the {driver} driver cannot carry out {step!r}")
