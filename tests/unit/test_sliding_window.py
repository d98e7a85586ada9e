"""The `sliding_window` client: its limiter on fake time, and against limits itself.

The limiter's rule (`SlidingLog`) is pure, so most of it is tested on a fake
clock: when each send may go, and that limits' own strategies, driven by the
same fake clock, accept every send even when each decision comes up to the
margin after its send. The end-to-end tests then run the real client
against a real mock server at time scale 0.1 and check from the server's
log that nothing was rejected and the limit was kept.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import limits
import limits.storage.memory
import limits.strategies
import pytest

from clients import REGISTRY, ClientConfig, ConfigError
from clients.catalog.sliding_window import MARGIN, NAME, make_limiter
from clients.infra.async_batch import drive
from clients.limiters.base import Clock
from clients.limiters.sliding_log import EPSILON, SlidingLog, SlidingLogLimiter
from mock_server.vocabulary import WINDOW_STRATEGIES
from tests.drivers import FAKE_DRIVERS, Driver, FakeTime, grant_times
from tests.helpers import fake_limits_clock

L, T, M = 2, 1.0, 0.01


def approx(value: Any, abs_: float = 1e-9) -> Any:
    return pytest.approx(value, abs=abs_)


def greedy(log: SlidingLog, n: int, start: float) -> list[float]:
    """n sends, each as early as the log allows, all ready at `start`."""
    sends: list[float] = []
    for _ in range(n):
        at = log.earliest(start if not sends else sends[-1])
        log.record(at)
        sends.append(at)
    return sends


def at_most_in_any(sends: list[float], limit: int, span: float) -> bool:
    """No `limit` + 1 sends within `span` seconds of each other (a half-open window),
    give or take the rounding of a float sum."""
    ordered = sorted(sends)
    return all(b - a >= span - 1e-9 for a, b in zip(ordered, ordered[limit:], strict=False))


# --- the log rule on fake time -------------------------------------------------------


def test_sends_go_as_early_as_allowed() -> None:
    # 2 at 0, 2 at T + m, 2 at 2(T + m), ...: the bound's schedule plus the margin.
    assert greedy(SlidingLog(L, T, M), 10, 0.0) == approx([(k // 2) * (T + M) for k in range(10)])


def test_a_send_waits_for_the_oldest_of_the_last_limit_to_leave_the_window() -> None:
    log = SlidingLog(3, 2.0, 0.1)
    for at in (0.0, 0.5, 1.0):
        log.record(at)
    assert log.earliest(1.2) == approx(2.1)  # 0.0 leaves [t - 2.1, t) at 2.1
    assert log.earliest(3.0) == 3.0
    log.record(2.1)
    assert log.earliest(2.1) == approx(2.6)


def test_never_more_than_limit_in_any_window_whenever_requests_arrive() -> None:
    rng = random.Random(3)
    for limit, window, margin in [(2, 1.0, 0.01), (3, 2.0, 0.05), (1, 0.1, 0.0)]:
        log = SlidingLog(limit, window, margin)
        sends: list[float] = []
        ready = 0.0
        for _ in range(300):
            ready += rng.expovariate(3.0 * limit / window)  # faster than allowed, often
            at = log.earliest(max(ready, sends[-1] if sends else 0.0))
            assert at >= ready
            log.record(at)
            sends.append(at)
        assert at_most_in_any(sends, limit, window + margin)


def test_bad_settings_are_refused_with_their_unit() -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingLog(0, 1.0, 0.01)
    with pytest.raises(ValueError, match="seconds"):
        SlidingLog(2, 0.0, 0.01)
    with pytest.raises(ValueError, match="less than the window"):
        SlidingLog(2, 0.01, 0.01)


# --- the counter rule on fake time ---------------------------------------------------


def test_counter_rule_holds_the_second_send_until_half_way_through_the_next_window() -> None:
    # Windows [100, 101), [101, 102), ... on the clock. The batch starts 0.2
    # into one: 2 at once, the 3rd after T + m (counter: 2 * 0.79 < 2), the
    # 4th only when 2 * (1 - f) + 1 < 2, i.e. half way through window 101;
    # the 6th then waits for the log, T + m after the 4th.
    log = SlidingLog(L, T, M, counter=True)
    sends = greedy(log, 6, 100.2)
    assert sends == approx(
        [100.2, 100.2, 101.21, 101.5 + EPSILON, 102.22, 102.51 + EPSILON], abs_=1e-6
    )


def test_counter_rule_late_in_a_window_is_the_log_rule() -> None:
    # Starting 0.7 into a window, T + m later is already past half way.
    sends = greedy(SlidingLog(L, T, M, counter=True), 6, 100.7)
    assert sends == approx([100.7, 100.7, 101.71, 101.71, 102.72, 102.72], abs_=1e-6)


def test_counter_rule_puts_a_send_near_an_edge_in_the_later_window() -> None:
    # A send 5 ms before an edge may be decided on either side of it (m = 10 ms);
    # the later window is the worst case, as a hit weighs more there.
    log = SlidingLog(L, T, M, counter=True)
    log.record(100.3)
    log.record(100.995)
    assert log.counts(100) == (0, 2)
    assert log.counts(101) == (1, 1)
    assert log.counts(102) == (1, 0)
    assert log.counts(103) == (0, 0)


def limits_rejections(
    strategy: str,
    counter: bool,
    phase: float,
    rng: random.Random,
    monkeypatch: pytest.MonkeyPatch,
    extremes: bool = False,
) -> int:
    """10 sends, each as early as the rule allows, through limits' own strategy.

    Each send is decided a random 0..M seconds after it left (only 0 or
    just under M if `extremes`: the margin must be more than the gap, since
    a moving window rejects two decisions exactly T apart), in decision
    order, on a fake time.time() that starts `phase` into a clock window.
    """
    now = fake_limits_clock(monkeypatch)
    limiter = limits.strategies.STRATEGIES[strategy](limits.storage.MemoryStorage())
    item = limits.parse("2/second")
    sends = greedy(SlidingLog(L, T, M, counter=counter), 10, 1000.0 + phase)
    delays = [rng.choice((0.0, M - 1e-6)) if extremes else rng.uniform(0, M) for _ in sends]
    decisions = sorted(s + d for s, d in zip(sends, delays, strict=True))
    rejected = 0
    for at in decisions:
        now[0] = at
        rejected += not limiter.hit(item, "client")
    return rejected


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_limits_accepts_every_send_whatever_the_phase_and_delays(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    counter = strategy == "sliding-window-counter"
    for i in range(400):
        phase = i / 400 + rng.uniform(0, 1 / 400)
        for extremes in (False, True):
            rejected = limits_rejections(strategy, counter, phase, rng, monkeypatch, extremes)
            assert rejected == 0, (phase, extremes)


def test_the_log_alone_is_rejected_by_the_counter_in_about_half_the_phases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Why the counter rule exists: with it off, a batch starting early in a
    # clock window (before half way, less the margin) has its 4th send
    # rejected; so does one starting within 4 margins of the window's end,
    # where the 5 pairs, each T + m after the last, reach the next window.
    rng = random.Random(5)
    phases = [(i + 0.5) / 100 for i in range(100)]
    rejected = [
        limits_rejections("sliding-window-counter", False, p, rng, monkeypatch) > 0 for p in phases
    ]
    assert 48 <= sum(rejected) <= 56
    assert all(rejected[:47])
    assert not any(rejected[51:95])
    assert all(rejected[97:])


# --- the limiter on fake time, under asyncio and the simulator ----------------------


@pytest.mark.parametrize("driver", FAKE_DRIVERS)
def test_limiter_lets_waiting_requests_through_in_order_on_fake_time(driver: Driver) -> None:
    limiters: list[SlidingLogLimiter] = []

    def make(clock: Clock) -> SlidingLogLimiter:
        limiters.append(SlidingLogLimiter(SlidingLog(L, T, M), clock=lambda: 50.0 + clock()))
        return limiters[-1]

    # The limiter's clock reads 50 s when the driver's reads 0.
    granted, waits = grant_times(driver, make, [0.0] * 6)
    schedule = [(k // 2) * (T + M) for k in range(6)]
    assert granted == approx(schedule)
    assert limiters[0].log.sent[-1] == approx(50.0 + schedule[-1])
    # First come, first served: waiter k got the k-th place, and says how long it waited.
    assert waits == approx(schedule)
    [limiter] = limiters
    assert limiter.waiters == 0
    assert "waiters=0" in repr(limiter)


def test_a_cancelled_waiter_logs_nothing() -> None:
    async def main() -> SlidingLogLimiter:
        fake = FakeTime()
        limiter = SlidingLogLimiter(SlidingLog(1, T, M), clock=fake.clock)
        await drive(limiter.acquire(), sleep=fake.sleep)
        sleeping = asyncio.ensure_future(drive(limiter.acquire(), sleep=fake.sleep))
        queued = asyncio.ensure_future(drive(limiter.acquire(), sleep=fake.sleep))
        await fake.settle()
        assert limiter.waiters == 2
        sleeping.cancel()  # its turn passes to `queued`, which sleeps in turn
        await fake.settle()
        assert not queued.done()
        queued.cancel()
        await fake.settle()
        assert sleeping.cancelled()
        assert queued.cancelled()
        return limiter

    limiter = asyncio.run(main())
    assert list(limiter.log.sent) == [0.0]
    assert limiter.waiters == 0
    assert limiter._turn.free == 1


def test_client_takes_its_limit_and_window_from_the_config() -> None:
    config = ClientConfig(rate=4.0, capacity=3, time_scale=0.1)
    limiter = make_limiter(config)
    assert (limiter.log.limit, limiter.log.window, limiter.log.margin) == (3, approx(0.075), MARGIN)
    assert not limiter.log.counter
    counter = make_limiter(ClientConfig(server_strategy="sliding-window-counter"))
    assert counter.log.counter
    with pytest.raises(ConfigError, match=r"HINT: use a time scale of at least 0\.04"):
        make_limiter(ClientConfig(time_scale=0.01))
    with pytest.raises(ConfigError, match="server_strategy"):
        ClientConfig(server_strategy="leaky-bucket")  # type: ignore[arg-type]


def test_client_is_registered() -> None:
    assert NAME in REGISTRY


def test_a_send_that_reached_the_wire_late_is_counted_from_then() -> None:
    """Two sends granted at 0 whose requests waited 0.3 s for a connection: the
    server's window opened at 0.3 s, so the next two wait for 1.3 s + m, not 1 + m."""
    log = SlidingLog(2, 1.0, 0.02)
    log.record(0.0)
    log.record(0.0)
    assert log.earliest(0.5) == pytest.approx(1.02)
    log.restamp(0.0, 0.3)
    log.restamp(0.0, 0.25)
    assert list(log.sent) == [0.25, 0.3]  # still in time order
    assert log.earliest(0.5) == pytest.approx(1.27)
    log.restamp(0.25, 0.1)  # never earlier than logged
    log.restamp(9.0, 9.5)  # not in the log: nothing moves
    assert list(log.sent) == [0.25, 0.3]


def test_the_limiter_restamps_the_send_it_just_let_go() -> None:
    now = [5.0]
    limiter = SlidingLogLimiter(SlidingLog(1, 1.0, 0.0), clock=lambda: now[0])
    steps = limiter.acquire()
    with pytest.raises(StopIteration):
        next(steps)
    restamp = limiter.on_wire()
    now[0] = 5.2  # the request reached the wire 0.2 s later
    restamp()
    assert list(limiter.log.sent) == [5.2]
