"""The token bucket, one class for every driver: on fake time under asyncio and the
simulator (exact instants), and on the real clock under threads (compressed)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from typing import Any

import pytest

from clients.infra.async_batch import drive
from clients.infra.steps import Sleep, Step
from clients.limiters.base import Clock
from clients.limiters.bucket import TokenBucket
from tests.drivers import (
    FAKE_DRIVERS,
    Driver,
    FakeTime,
    grant_times,
    simulation,
    thread_grant_times,
)


def bucket(rate: float = 2.0, capacity: int = 2, initial_tokens: int = 0) -> Any:
    """A factory of buckets on a given clock."""

    def make(clock: Clock) -> TokenBucket:
        return TokenBucket(rate, capacity, initial_tokens, clock=clock)

    return make


def never_overdrawn(
    times: list[float], rate: float, capacity: int, initial: int, slack: float = 1e-9
) -> None:
    """In any interval [s, t] at most capacity + rate*(t - s) tokens were granted,
    and by time t at most initial + rate*t, whoever asked and when."""
    times = sorted(times)
    for i, t in enumerate(times):
        assert i + 1 <= initial + rate * t + slack, (i, t)
        for j in range(i + 1):
            assert i - j + 1 <= capacity + rate * (t - times[j]) + slack, (j, i, times)


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_first_token_comes_after_one_over_rate(driver: Driver) -> None:
    times, waits = grant_times(driver, bucket(), [0.0])
    assert times == [0.5]
    assert waits == [0.5]


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_initial_tokens_are_granted_at_once(driver: Driver) -> None:
    times, _ = grant_times(driver, bucket(initial_tokens=2), [0.0] * 3)
    assert times == [0.0, 0.0, 0.5]


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
@pytest.mark.parametrize(("rate", "n"), [(2.0, 10), (4.0, 7), (0.5, 3), (16.0, 40)])
def test_concurrent_acquisitions_from_empty_take_n_over_rate(
    driver: Driver, rate: float, n: int
) -> None:
    """The write-up's bucket gives one token every 1/rate while anyone waits:
    whole tokens only, and last_update moves at each grant, so the empty
    bucket never builds up a burst. k-th grant at k/rate; the batch takes n/rate."""
    times, _ = grant_times(driver, bucket(rate=rate), [0.0] * n)
    assert times == pytest.approx([k / rate for k in range(1, n + 1)])


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_after_capacity_tokens_the_rest_follow_at_rate(driver: Driver) -> None:
    """Starting full: `capacity` at once, then the (capacity+k)-th at k/rate."""
    times, _ = grant_times(driver, bucket(rate=4.0, capacity=3, initial_tokens=3), [0.0] * 7)
    assert times == pytest.approx([0, 0, 0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_tokens_never_exceed_capacity_after_idling(driver: Driver) -> None:
    # 100 s of idle time is 200 tokens' worth: the bucket holds 2.
    times, _ = grant_times(driver, bucket(), [100.0] * 4)
    assert times == [100.0, 100.0, 100.5, 101.0]


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
@pytest.mark.parametrize("seed", range(5))
def test_concurrent_acquirers_never_overdraw(driver: Driver, seed: int) -> None:
    rng = random.Random(seed)
    rate, capacity, initial = 4.0, 3, 1
    starts = sorted(rng.choice([0.0, 0.125, 0.5, 1.0, 2.5, 6.0]) for _ in range(40))
    times, _ = grant_times(driver, bucket(rate, capacity, initial), starts)
    assert len(times) == 40
    never_overdrawn(times, rate, capacity, initial)


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_acquire_returns_seconds_waited(driver: Driver) -> None:
    _, waits = grant_times(driver, bucket(), [0.0] * 3)
    assert sorted(waits) == [0.5, 1.0, 1.5]


def test_the_drivers_agree_grant_for_grant() -> None:
    starts = [0.0, 0.0, 0.3, 0.3, 0.9, 2.0, 2.0, 2.0, 5.0]
    make = bucket(rate=3.0, capacity=2, initial_tokens=1)
    assert grant_times("asyncio", make, starts) == grant_times("simulator", make, starts)


def test_sequential_acquisitions_from_empty_take_n_over_rate() -> None:
    sim = simulation()
    b = TokenBucket(2.0, 2, clock=sim.clock)
    ends: list[float] = []

    def one_after_another() -> Generator[Step, Any, None]:
        for _ in range(10):
            yield from b.acquire()
        ends.append(sim.now)

    sim.start(one_after_another())
    sim.run()
    assert ends == [5.0]  # first send at 0.5 s, one every 0.5 s


def test_every_waiter_wakes_for_every_token() -> None:
    """The write-up's waiters all sleep `(need - tokens) / rate` and try again:
    each token wakes every waiter, and all but one go back to sleep. From
    empty, the k-th waiter served sleeps k times: n(n + 1)/2 sleeps for n."""
    sim = simulation()
    b = TokenBucket(2.0, 2, clock=sim.clock)
    sleeps = [0]

    def counted() -> Generator[Step, Any, None]:
        steps = b.acquire()
        try:
            step = next(steps)
            while True:
                assert isinstance(step, Sleep)
                sleeps[0] += 1
                yield step
                step = steps.send(None)
        except StopIteration:
            return

    for _ in range(10):
        sim.start(counted())
    sim.run()
    assert sleeps[0] == 10 * 11 // 2


def test_partial_tokens_are_kept_not_dropped() -> None:
    """last_update moves only when a whole token was added, so two gaps of
    0.25 s at rate 2 (half a token each) make one token, not zero."""
    now = [0.0]
    b = TokenBucket(2.0, 2, clock=lambda: now[0])
    now[0] = 0.25
    b._refill(now[0])
    assert b.tokens == 0
    now[0] = 0.5
    b._refill(now[0])
    assert b.tokens == 1


def test_repr_shows_tokens_and_waiters() -> None:
    async def main() -> None:
        fake = FakeTime()
        b = TokenBucket(2.0, 2, clock=fake.clock)
        assert repr(b) == "<TokenBucket tokens=0/2 rate=2/s waiters=0>"
        task = asyncio.ensure_future(drive(b.acquire(), sleep=fake.sleep))
        await fake.settle()
        assert "waiters=1" in repr(b)
        task.cancel()
        await fake.settle()
        assert "waiters=0" in repr(b)

    asyncio.run(main())


def test_cancelled_waiter_takes_no_token() -> None:
    async def main() -> None:
        fake = FakeTime()
        b = TokenBucket(2.0, 2, clock=fake.clock)
        first = asyncio.ensure_future(drive(b.acquire(), sleep=fake.sleep))
        second = drive(b.acquire(), sleep=fake.sleep)
        await fake.settle()
        first.cancel()
        (waited,) = await fake.run(second)
        assert waited == 0.5  # not 1.0: the cancelled waiter left the 0.5 s token
        assert b.tokens == 0
        assert b.waiters == 0

    asyncio.run(main())


# --- under the thread driver, on the real clock --------------------------------------


def test_threads_pace_like_the_other_drivers() -> None:
    # Rate 40/s: one token every 25 ms, 8 threads from empty. The k-th grant
    # comes no earlier than k/rate; a busy machine only makes them later.
    rate, n = 40.0, 8
    times, b = thread_grant_times(bucket(rate=rate), [0.0] * n)
    assert len(times) == n
    for k, t in enumerate(sorted(times), start=1):
        assert t >= k / rate - 1e-6
    assert max(times) < n / rate + 1.0
    assert b.waiters == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(3))
def test_threads_never_overdraw(seed: int) -> None:
    # 24 threads against a fast bucket: the thread driver's lock is what keeps
    # each take whole. Each grant's time is the bucket's own reading, so the
    # bound holds exactly, however late the threads run.
    rng = random.Random(seed)
    rate, capacity, initial = 200.0, 3, 1
    starts = [rng.choice([0.0, 0.0, 0.01, 0.03]) for _ in range(24)]
    times, _ = thread_grant_times(bucket(rate, capacity, initial), starts)
    assert len(times) == 24
    never_overdrawn(times, rate, capacity, initial, slack=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rate": 0.0, "capacity": 2}, "rate"),
        ({"rate": 2.0, "capacity": 0}, "capacity"),
        ({"rate": 2.0, "capacity": 2, "initial_tokens": 3}, "initial_tokens"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        TokenBucket(**kwargs)  # type: ignore[arg-type]


def test_need_above_capacity_is_refused() -> None:
    b = TokenBucket(2.0, 2, clock=lambda: 0.0)
    with pytest.raises(ValueError, match="capacity"):
        next(b.acquire(3))
