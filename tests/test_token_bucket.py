"""The token bucket on fake time: no real sleeps, exact instants."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from clients.limiters.bucket import TokenBucket

T = TypeVar("T")


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

    async def _settle(self) -> None:
        # Nothing here does real I/O, so a few hundred loop turns are enough
        # for every runnable task (lock hand-offs included) to block again.
        for _ in range(200):
            await asyncio.sleep(0)

    async def run(self, *coros: Awaitable[T]) -> list[T]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        await self._settle()
        while not all(t.done() for t in tasks):
            assert self._timers, "deadlock: tasks blocked with no timer pending"
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not future.cancelled():
                future.set_result(None)
            await self._settle()
        return [t.result() for t in tasks]


def make_bucket(
    fake: FakeTime, rate: float = 2.0, capacity: int = 2, initial_tokens: int = 0
) -> TokenBucket:
    return TokenBucket(rate, capacity, initial_tokens, clock=fake.clock, sleep=fake.sleep)


def run(main: Callable[[FakeTime], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main(FakeTime()))


def grant_times(
    fake: FakeTime, bucket: TokenBucket, n: int, starts: list[float] | None = None
) -> Awaitable[list[float]]:
    """Start n acquirers (at fake `starts`, default all at 0); when did each get its token?"""
    starts = starts or [0.0] * n

    async def one(start: float) -> float:
        if start:
            await fake.sleep(start)
        await bucket.acquire()
        return fake.now

    return fake.run(*(one(s) for s in starts))


def test_first_token_comes_after_one_over_rate() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)
        (waited,) = await fake.run(bucket.acquire())
        assert waited == 0.5
        assert fake.now == 0.5
        assert bucket.tokens == 0

    run(main)


def test_initial_tokens_are_granted_at_once() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, initial_tokens=2)
        times = await grant_times(fake, bucket, 3)
        assert times == [0.0, 0.0, 0.5]

    run(main)


@pytest.mark.parametrize(("rate", "n"), [(2.0, 10), (4.0, 7), (0.5, 3), (16.0, 40)])
def test_concurrent_acquisitions_from_empty_take_n_over_rate(rate: float, n: int) -> None:
    """The write-up's bucket gives one token every 1/rate while anyone waits:
    whole tokens only, and last_update moves at each grant, so the empty
    bucket never builds up a burst. k-th grant at k/rate; the batch takes n/rate."""

    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, rate=rate)
        times = sorted(await grant_times(fake, bucket, n))
        assert times == pytest.approx([k / rate for k in range(1, n + 1)])

    run(main)


def test_sequential_acquisitions_from_empty_take_n_over_rate() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)

        async def one_after_another() -> float:
            for _ in range(10):
                await bucket.acquire()
            return fake.now

        (end,) = await fake.run(one_after_another())
        assert end == 5.0  # first send at 0.5 s, one every 0.5 s

    run(main)


def test_after_capacity_tokens_the_rest_follow_at_rate() -> None:
    """Starting full: `capacity` at once, then the (capacity+k)-th at k/rate."""

    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, rate=4.0, capacity=3, initial_tokens=3)
        times = sorted(await grant_times(fake, bucket, 7))
        assert times == pytest.approx([0, 0, 0, 0.25, 0.5, 0.75, 1.0])

    run(main)


def test_tokens_never_exceed_capacity_after_idling() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, rate=2.0, capacity=2)
        await fake.run(fake.sleep(100.0))  # 200 tokens' worth of idle time
        waited = await bucket.acquire()
        assert waited == 0.0
        assert bucket.tokens == 1  # refilled to 2, not 200, then one taken
        times = await grant_times(fake, bucket, 3)
        assert sorted(times) == [100.0, 100.5, 101.0]

    run(main)


def test_partial_tokens_are_kept_not_dropped() -> None:
    """last_update moves only when a whole token was added, so two gaps of
    0.3 s at rate 2 (0.6 token each) make one token, not zero."""

    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, rate=2.0, capacity=2)
        await fake.run(fake.sleep(0.25))
        bucket._refill(fake.now)
        assert bucket.tokens == 0
        await fake.run(fake.sleep(0.25))
        bucket._refill(fake.now)
        assert bucket.tokens == 1

    run(main)


@pytest.mark.parametrize("seed", range(5))
def test_concurrent_acquirers_never_overdraw(seed: int) -> None:
    """In any interval [s, t] the bucket grants at most capacity + rate*(t - s)
    tokens, and by time t at most initial + rate*t, whoever asks and when."""
    rng = random.Random(seed)
    rate, capacity, initial = 4.0, 3, 1
    starts = sorted(rng.choice([0.0, 0.125, 0.5, 1.0, 2.5, 6.0]) for _ in range(40))

    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake, rate=rate, capacity=capacity, initial_tokens=initial)
        times = sorted(await grant_times(fake, bucket, len(starts), starts))
        for i, t in enumerate(times):
            assert i + 1 <= initial + rate * t + 1e-9
            for j in range(i + 1):
                assert i - j + 1 <= capacity + rate * (t - times[j]) + 1e-9

    run(main)


def test_acquire_returns_seconds_waited() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)
        waits = await fake.run(*(bucket.acquire() for _ in range(3)))
        assert sorted(waits) == [0.5, 1.0, 1.5]

    run(main)


def test_repr_shows_tokens_and_waiters() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)
        assert repr(bucket) == "<TokenBucket tokens=0/2 rate=2/s waiters=0>"
        task = asyncio.ensure_future(bucket.acquire())
        await fake._settle()
        assert "waiters=1" in repr(bucket)
        task.cancel()
        await fake._settle()
        assert "waiters=0" in repr(bucket)

    run(main)


def test_cancelled_waiter_takes_no_token() -> None:
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)
        first = asyncio.ensure_future(bucket.acquire())
        second = bucket.acquire()
        await fake._settle()
        first.cancel()
        (waited,) = await fake.run(second)
        assert waited == 0.5  # not 1.0: the cancelled waiter left the 0.5 s token
        assert bucket.tokens == 0

    run(main)


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
    async def main(fake: FakeTime) -> None:
        bucket = make_bucket(fake)
        with pytest.raises(ValueError, match="capacity"):
            await bucket.acquire(3)

    run(main)
