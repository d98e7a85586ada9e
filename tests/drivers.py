"""Fake time for each of the three drivers, so policy code is tested under all of them.

- asyncio: `FakeTime`, a clock and an async sleep that advance only when
  every task is blocked;
- the simulator: `bench.theory.simulate.Simulation`, virtual time by construction;
- threads: `FakeThreadTime`, for one generator driven on the test's own
  thread (a sleep moves the clock); several threads need the real clock.

`grant_times` runs one limiter's `acquire` for several waiters under a
driver and says when each got through.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Literal, TypeVar

from bench.theory.simulate import FixedWindow, Simulation
from clients.infra.async_batch import drive
from clients.infra.recorder import Recorder
from clients.infra.steps import Sleep, Step
from clients.infra.thread_batch import ThreadDriver
from clients.limiters.base import Clock, Limiter

T = TypeVar("T")
Driver = Literal["asyncio", "simulator"]
FAKE_DRIVERS: tuple[Driver, ...] = ("asyncio", "simulator")


class FakeTime:
    """A clock and an async sleep that advance only when every task is blocked.

    Sleepers park on futures in a heap; `run` lets the ready tasks run until
    none is runnable, then jumps the clock to the earliest wake-up.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, next(self._seq), future))
        await future

    async def settle(self) -> None:
        # Nothing here does real I/O, so a few hundred loop turns are enough
        # for every runnable task (hand-offs included) to block again.
        for _ in range(200):
            await asyncio.sleep(0)

    async def run(self, *coros: Awaitable[T]) -> list[T]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        await self.settle()
        while not all(t.done() for t in tasks):
            assert self._timers, "deadlock: tasks blocked with no timer pending"
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not future.cancelled():
                future.set_result(None)
            await self.settle()
        return [t.result() for t in tasks]


class FakeThreadTime:
    """A clock for the thread driver on one thread: its sleeps move the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def simulation(overshoot: float = 0.0) -> Simulation:
    """A simulator whose server accepts one hit per second; for limiters alone."""
    return Simulation(FixedWindow(1, 1.0), lambda rng: 0.0, random.Random(0), overshoot=overshoot)


def waiter(
    limiter: Limiter, clock: Clock, start: float, granted: list[float]
) -> Generator[Step, Any, float]:
    """Ready at `start`: acquire, note the time of the grant; returns the seconds waited.

    The note is taken in the same step as the grant, so under every driver
    no other waiter can come between them.
    """
    if start:
        yield Sleep(start)
    waited = yield from limiter.acquire()
    granted.append(clock())
    return waited


def grant_times(
    driver: Driver,
    make: Callable[[Clock], Limiter],
    starts: list[float],
) -> tuple[list[float], list[float]]:
    """(grant times in order of grant, seconds waited per waiter) for waiters ready at
    `starts`, under a fake-time driver."""
    granted: list[float] = []
    if driver == "asyncio":
        fake = FakeTime()
        limiter = make(fake.clock)

        async def main() -> list[float]:
            return await fake.run(
                *(drive(waiter(limiter, fake.clock, s, granted), sleep=fake.sleep) for s in starts)
            )

        waits = asyncio.run(main())
        return granted, waits
    sim = simulation()
    limiter = make(sim.clock)
    waits_by: dict[int, float] = {}

    def one(i: int, start: float) -> Generator[Step, Any, None]:
        waits_by[i] = yield from waiter(limiter, sim.clock, start, granted)

    for i, s in enumerate(starts):
        sim.start(one(i, s))
    assert sim.run()
    return granted, [waits_by[i] for i in range(len(starts))]


class LastReading:
    """A clock that remembers its last reading."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last = math.nan

    def __call__(self) -> float:
        self.last = self.clock()
        return self.last


def thread_grant_times(
    make: Callable[[Clock], Limiter], starts: list[float]
) -> tuple[list[float], Limiter]:
    """Grant times (real seconds from the start, in order of grant) for a thread per waiter.

    A grant's time is the limiter's own last clock reading, taken in the same
    step as the grant: a thread preempted right after it cannot make it late.
    """
    recorder = Recorder("test", len(starts), clock=time.monotonic)
    reading = LastReading(recorder.now)
    limiter = make(reading)
    driver = ThreadDriver(recorder)
    granted: list[float] = []

    def last() -> float:
        return reading.last

    driver.run([waiter(limiter, last, s, granted) for s in starts], name="waiter")
    return granted, limiter
