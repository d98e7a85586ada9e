"""The queued bucket: the write-up's grant instants, first come first served, one
wake-up per token; on fake time under asyncio and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from clients.infra.async_batch import drive
from clients.infra.steps import Park, Sleep, Step
from clients.limiters.base import Clock
from clients.limiters.bucket import TokenBucket
from clients.limiters.fifo_bucket import FifoBucket
from tests.drivers import FAKE_DRIVERS, Driver, FakeTime, grant_times, simulation


def fifo(rate: float = 2.0, capacity: int = 2, initial_tokens: int = 0) -> Any:
    def make(clock: Clock) -> FifoBucket:
        return FifoBucket(rate, capacity, initial_tokens, clock=clock)

    return make


def writeup(rate: float = 2.0, capacity: int = 2, initial_tokens: int = 0) -> Any:
    def make(clock: Clock) -> TokenBucket:
        return TokenBucket(rate, capacity, initial_tokens, clock=clock)

    return make


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
@pytest.mark.parametrize(
    ("knobs", "starts"),
    [
        ((2.0, 2, 0), [0.0] * 10),
        ((4.0, 3, 3), [0.0] * 7),
        ((0.5, 2, 1), [0.0] * 5),
        ((16.0, 4, 0), [0.0] * 40),
        ((2.0, 2, 0), [100.0] * 4),
    ],
)
def test_a_batch_that_starts_together_is_granted_at_the_write_ups_instants(
    driver: Driver, knobs: tuple[float, int, int], starts: list[float]
) -> None:
    """Same arithmetic, same instants: the two buckets differ only in who waits awake."""
    queued, _ = grant_times(driver, fifo(*knobs), starts)
    reference, _ = grant_times(driver, writeup(*knobs), starts)
    assert queued == reference


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_a_late_arrival_waits_its_turn_instead_of_its_own_phase(driver: Driver) -> None:
    """Rate 3/s, tokens due at 1/3, 2/3, 1 s. Waiters that arrive at 0.3 s: the
    write-up's sleep 1/3 s from their arrival, find the 2/3 s token not yet
    whole at 0.63 s, sleep again and lose it to a waiter arriving at 0.9 s. In
    the queue the next in line is woken as the 1/3 s token goes, and sleeps
    exactly until the next one."""
    starts = [0.0, 0.0, 0.3, 0.3, 0.9]
    queued, _ = grant_times(driver, fifo(3.0, 2, 1), starts)
    reference, _ = grant_times(driver, writeup(3.0, 2, 1), starts)
    assert queued == pytest.approx([0, 1 / 3, 2 / 3, 1, 4 / 3])
    assert reference[:3] == pytest.approx([0, 1 / 3, 0.9])


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_a_token_a_hair_short_at_its_due_time_costs_a_nanosecond(driver: Driver) -> None:
    """At rate 3 a wake-up exactly 1/3 s after 1.0 s finds (4/3 - 1) * 3 = 0.999...
    in floats: no whole token. The write-up's waiter sleeps another 1/3 s; the
    queue's sleeps the nanosecond the token is really short by."""
    queued, _ = grant_times(driver, fifo(3.0, 2, 1), [0.0] * 5)
    reference, _ = grant_times(driver, writeup(3.0, 2, 1), [0.0] * 5)
    assert reference[4] == pytest.approx(5 / 3)
    assert queued == pytest.approx([0, 1 / 3, 2 / 3, 1, 4 / 3], abs=1e-8)


def _served_in_order(driver: Driver, starts: list[float]) -> list[int]:
    """Indices of the waiters in the order they got their token."""
    order: list[int] = []
    if driver == "simulator":
        sim = simulation()
        b = FifoBucket(2.0, 2, clock=sim.clock)

        def one(i: int, start: float) -> Generator[Step, Any, None]:
            yield Sleep(start)
            yield from b.acquire()
            order.append(i)

        for i, s in enumerate(starts):
            sim.start(one(i, s))
        assert sim.run()
        return order

    async def main() -> None:
        fake = FakeTime()
        b = FifoBucket(2.0, 2, clock=fake.clock)

        async def one(i: int, start: float) -> None:
            await fake.sleep(start)
            await drive(b.acquire(), sleep=fake.sleep)
            order.append(i)

        await fake.run(*(one(i, s) for i, s in enumerate(starts)))

    asyncio.run(main())
    return order


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_waiters_are_served_first_come_first_served(driver: Driver) -> None:
    # Arrivals spread over 3 s, well before their tokens: served in arrival order,
    # a late arrival behind everyone already waiting.
    starts = [0.0, 0.1, 0.2, 0.2, 0.7, 1.3, 2.9, 3.0]
    order = _served_in_order(driver, starts)
    assert order == sorted(range(len(starts)), key=lambda i: (starts[i], i))


def test_one_waiter_wakes_per_token() -> None:
    """From empty, n waiters: each sleeps exactly once (its own token) and the other
    n - 1 are parked until handed the turn; the write-up's bucket sleeps n(n + 1)/2
    times for the same grants (tests/unit/test_token_bucket.py)."""
    sim = simulation()
    b = FifoBucket(2.0, 2, clock=sim.clock)
    steps: dict[str, int] = {"sleep": 0, "park": 0}
    awake: list[int] = []  # waiters not parked, each time one is resumed
    n = 10

    def counted() -> Generator[Step, Any, None]:
        gen = b.acquire()
        try:
            step = next(gen)
            while True:
                steps["sleep" if isinstance(step, Sleep) else "park"] += 1
                assert isinstance(step, Sleep | Park)
                yield step
                awake.append(b.waiters - len(b._turn.waiters))
                step = gen.send(None)
        except StopIteration:
            return

    for _ in range(n):
        sim.start(counted())
    assert sim.run()
    assert steps == {"sleep": n, "park": n - 1}
    # Whenever anyone is resumed, exactly one waiter is not parked: the one whose turn it is.
    assert set(awake) == {1}


def test_a_cancelled_waiter_passes_its_turn_and_takes_no_token() -> None:
    async def main() -> None:
        fake = FakeTime()
        b = FifoBucket(2.0, 2, clock=fake.clock)
        first = asyncio.ensure_future(drive(b.acquire(), sleep=fake.sleep))
        second = asyncio.ensure_future(drive(b.acquire(), sleep=fake.sleep))
        third = asyncio.ensure_future(drive(b.acquire(), sleep=fake.sleep))
        await fake.settle()
        assert "waiters=3" in repr(b)
        first.cancel()  # asleep on the one timer
        second.cancel()  # parked in the queue
        (waited,) = await fake.run(third)
        assert waited == 0.5  # the first token, left by both cancelled waiters
        assert (b.tokens, b.waiters, len(b._turn.waiters)) == (0, 0, 0)

    asyncio.run(main())


def test_repr_and_bad_settings() -> None:
    b = FifoBucket(2.0, 2, clock=lambda: 0.0)
    assert repr(b) == "<FifoBucket tokens=0/2 rate=2/s waiters=0>"
    with pytest.raises(ValueError, match="capacity"):
        next(b.acquire(3))
    with pytest.raises(ValueError, match="rate"):
        FifoBucket(0.0, 2)
