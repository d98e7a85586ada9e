"""The theory against hand-computed cases, the reference figures and limits itself.

All in virtual time: nothing sleeps, no server runs. Seeds are fixed, so every
assertion on a simulated mean is deterministic; tolerances are a few
standard errors wide so that a change of seed would still pass.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace
from fractions import Fraction
from typing import Any

import limits
import limits.storage.memory
import limits.strategies
import pytest

import clients
from bench.theory.models import (
    Bound,
    TheoryError,
    TheoryInput,
    best_schedule,
    best_schedule_model,
    bound,
    bound_monte_carlo,
    exact_makespan,
    from_client_config,
    littles_law,
    model_for,
    predict,
    run_model,
    scenario_bound,
    thread_pool_exact,
    uniform_makespan,
)
from bench.theory.simulate import (
    FixedWindow,
    MovingWindow,
    SlidingWindowCounter,
    Strategy,
    make_server,
)
from clients.config import ClientConfig
from clients.infra.steps import Steps
from clients.infra.virtual import VirtualBatch, VirtualLoops, batch_loops
from clients.limiters.bucket import TokenBucket
from mock_server.vocabulary import MAX_LATENCY, WINDOW_STRATEGIES, Latency, RatebenchError
from tests.helpers import fake_limits_clock

WRITEUP = TheoryInput()
#: A scenario whose latency is always 3 s, so every makespan can be worked out by hand.
FIXED_3S = replace(WRITEUP, latency=Latency(3, 3))


def model(client: str) -> VirtualLoops:
    """The registered client's `virtual_loops`."""
    found = model_for(client)
    assert found is not None
    return found


def approx(value: float, abs_: float = 1e-9) -> Any:
    return pytest.approx(value, abs=abs_)


# --- the bound, by hand --------------------------------------------------------------


def test_bound_one_request_is_the_mean_latency() -> None:
    # One send at t = 0: E[randint(2, 5)] = 3.5 s, variance (4² - 1) / 12 = 1.25 s².
    b = bound(n=1, limit=2, window=1, lo=2, hi=5)
    assert b.mean_exact == Fraction(7, 2)
    assert b.stdev == approx(1.25**0.5)
    assert (b.min, b.max) == (2, 5)


def test_bound_two_requests_is_the_max_of_two_latencies() -> None:
    # Both at t = 0. P(max <= k) = ((k - 1) / 4)², k = 2..5, so the pmf is
    # 1, 3, 5, 7 sixteenths and the mean (2 + 9 + 20 + 35) / 16 = 33/8 s.
    b = bound(n=2, limit=2, window=1, lo=2, hi=5)
    assert b.mean_exact == Fraction(33, 8)
    assert [p for _, p in b.distribution] == [Fraction(k, 16) for k in (1, 3, 5, 7)]


def test_bound_three_requests_limit_two() -> None:
    # Sends at 0, 0, 1: P(M <= m) = F(m)² F(m - 1) with F(k) = (k - 1) / 4:
    # m = 3: 1/16, 4: 9/32, 5: 3/4, 6: 1; pmf 2, 7, 15, 8 (/32); mean 157/32 s.
    b = bound(n=3, limit=2, window=1, lo=2, hi=5)
    assert b.distribution == tuple(
        (Fraction(m), Fraction(k, 32)) for m, k in ((3, 2), (4, 7), (5, 15), (6, 8))
    )
    assert b.mean_exact == Fraction(157, 32)


def test_bound_with_constant_latency_is_the_last_batch_plus_latency() -> None:
    # 5 requests, 2 per 0.5 s: batches at 0, 0.5, 1.0; last one finishes at 1.0 + 3.
    b = bound(n=5, limit=2, window=0.5, lo=3, hi=3)
    assert (b.mean, b.stdev) == (4.0, 0.0)


def test_bound_for_the_writeup_scenario() -> None:
    b = bound()
    assert (round(b.mean, 2), round(b.stdev, 2)) == (8.29, 0.72)
    assert sum(p for _, p in b.distribution) == 1
    assert bound(scale=0.1).mean == approx(b.mean * 0.1)


def test_monte_carlo_bound_agrees_with_the_exact_one() -> None:
    exact = bound()
    estimate = bound_monte_carlo(10, 2, 1.0, lambda rng: float(rng.randint(2, 5)), runs=20000)
    assert not estimate.exact
    assert estimate.mean == approx(exact.mean, 0.03)  # ~5 standard errors


@pytest.mark.parametrize(
    ("n", "limit", "lo", "hi"), [(10, 2, 2, 5), (300, 20, 1, 2), (400, 100, 1, 2), (7, 3, 0.5, 0.8)]
)
def test_uniform_bound_agrees_with_monte_carlo(n: int, limit: int, lo: float, hi: float) -> None:
    integral = uniform_makespan(best_schedule(n, limit, 1.0), lo, hi)
    estimate = bound_monte_carlo(n, limit, 1.0, lambda rng: rng.uniform(lo, hi), runs=2000, seed=1)
    assert not integral.exact
    assert str(integral).endswith("numerical)")
    # ~5 standard errors of the estimate (and never tighter than float noise).
    assert integral.mean == approx(estimate.mean, 5 * estimate.stdev / 2000**0.5 + 1e-9)
    assert integral.stdev == pytest.approx(estimate.stdev, rel=0.1, abs=1e-3)


def test_scenario_bound_follows_the_servers_latency_rule() -> None:
    # Whole-second bounds draw randint (the exact bound), others uniform (the integral).
    assert scenario_bound(WRITEUP) == bound()
    fractional = replace(WRITEUP, n=7, limit=3, latency=Latency(0.5, 0.8))
    assert scenario_bound(fractional) == uniform_makespan(best_schedule(7, 3, 1.0), 0.5, 0.8)


def _brute_force_mean(sends: list[float], lo: int, hi: int) -> Fraction:
    """E[max(s_i + X_i)] over every combination of latencies: tiny cases only."""
    span = hi - lo + 1
    total = Fraction(0)
    for draws in itertools.product(range(lo, hi + 1), repeat=len(sends)):
        total += max(Fraction(s) + x for s, x in zip(sends, draws, strict=True))
    return total / span ** len(sends)


@pytest.mark.parametrize("seed", range(6))
def test_exact_makespan_agrees_with_brute_force(seed: int) -> None:
    # Random schedules, some sends far before the last (dropped as unable to
    # finish last), ties and fractional times included.
    rng = random.Random(seed)
    lo, hi = rng.choice([(0, 1), (1, 2), (2, 4), (3, 3)])
    sends = [rng.choice([0.0, 0.25, 0.5, 1.0, 1.5, 2.75, 3.0]) for _ in range(rng.randint(1, 6))]
    assert exact_makespan(sends, lo, hi).mean_exact == _brute_force_mean(sends, lo, hi)


def test_exact_bound_is_cheap_at_ten_thousand_requests() -> None:
    # 100 per window, 1-2 s: the last window's 100 sends decide it; and the token
    # bucket's schedule (one send per 0.01 s, 10,000 distinct times) as well.
    import time

    start = time.process_time()
    b = bound(10_000, 100, 1.0, 1, 2)
    paced = exact_makespan([(k + 1) / 100 for k in range(10_000)], 1, 2)
    assert time.process_time() - start < 5.0
    # P(all 100 of the last window take 1 s) = 2^-100: the bound is 99 + 2 s, all but surely.
    assert b.mean == approx(101.0)
    # The last send (100 s) alone: 101.5 s; each send 0.01 s before it raises the mean.
    assert 101.5 < paced.mean < 102.0


def test_exact_makespan_of_the_token_bucket_schedule() -> None:
    # The write-up's bucket: first send at 0.5 s, then one every 0.5 s.
    b = exact_makespan([0.5 * (k + 1) for k in range(10)], 2, 5)
    assert (round(b.mean, 2), round(b.stdev, 2)) == (9.11, 0.72)


def test_thread_pool_exact_by_hand() -> None:
    # Two threads, two requests: the max of two latencies, as in the bound.
    assert thread_pool_exact(2, 2, 2, 5).mean_exact == Fraction(33, 8)
    # Three requests, latencies 2 or 3: M = max(max(X1, X2), min(X1, X2) + X3).
    # (2,2): 4 or 5; (2,3) and (3,2): 4 or 5; (3,3): 5 or 6; mean 19/4 s.
    assert thread_pool_exact(3, 2, 2, 3).mean_exact == Fraction(19, 4)
    b = thread_pool_exact()
    assert (round(b.mean, 2), round(b.stdev, 2)) == (18.46, 1.96)


# --- the simulator, by hand ----------------------------------------------------------


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_thread_pool_with_constant_latency(strategy: Strategy) -> None:
    # Two threads, ten 3 s requests, never two sends in a window: 5 rounds of 3 s.
    p = predict("thread_pool", replace(FIXED_3S, strategy=strategy), runs=5)
    assert (p.makespan.min, p.makespan.max) == (15.0, 15.0)
    assert p.rejections.max == 0


def test_token_bucket_sends_one_every_half_second() -> None:
    trace = run_model(model("token_bucket"), FIXED_3S, random.Random(0))
    sends = [a.sent for a in trace.attempts]
    assert sends == pytest.approx([0.5 * (k + 1) for k in range(10)], abs=0.01)
    assert [a.request for a in trace.attempts] == list(range(10))
    assert trace.makespan == approx(5.0 + 3.0, 0.01)


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_naive_gather_is_rejected_exactly_twenty_times(strategy: Strategy) -> None:
    # 8 rejected at 0 s; at 3 s 2 in, 6 out; at 9 s 2 + 4; at 21 s 2 + 2; at 45 s the last 2.
    scenario = replace(WRITEUP, strategy=strategy)
    p = predict("naive_gather", scenario, runs=500)
    assert (p.rejections.min, p.rejections.max) == (20, 20)
    assert p.failed.max == 0
    # The last two go at 45 s; E[max of two randint(2, 5)] = 33/8 s.
    assert p.makespan.mean == approx(45 + 33 / 8, 0.15)
    trace = run_model(model("naive_gather"), scenario, random.Random(0))
    rounds = sorted({round(a.sent) for a in trace.attempts})
    assert rounds == [0, 3, 9, 21, 45]
    accepted = [sum(a.accepted for a in trace.attempts if round(a.sent) == t) for t in rounds]
    assert accepted == [2, 2, 2, 2, 2]


def test_naive_gather_with_the_writeups_squared_sleeps() -> None:
    # Sleeps 3, 9, 81, 6561 s: rounds at 0, 3, 12, 93 and 6654 s.
    trace = run_model(model("naive_gather"), replace(FIXED_3S, retry="writeup"), random.Random(0))
    assert sorted({round(a.sent) for a in trace.attempts}) == [0, 3, 12, 93, 6654]
    assert trace.makespan == approx(6654 + 3, 0.01)


def test_no_retries_fails_the_rejected() -> None:
    p = predict("naive_gather", replace(WRITEUP, retry="none"), runs=20)
    assert (p.rejections.mean, p.failed.mean) == (8, 8)


def test_deadline_cuts_the_run_and_fails_the_rest() -> None:
    # At 21 s two are rejected again and would retry at 45 s, past the 30 s deadline.
    p = predict("naive_gather", replace(WRITEUP, deadline=30.0), runs=20)
    assert (p.makespan.min, p.makespan.max) == (30, 30)
    assert (p.failed.mean, p.rejections.mean, p.unfinished_runs) == (2, 20, 20)


def test_failed_requests_when_attempts_run_out() -> None:
    # Two attempts only: 8 rejected at 0 s, 6 of them again at 3 s and failed.
    p = predict("naive_gather", replace(WRITEUP, attempts=2), runs=20)
    assert (p.rejections.mean, p.failed.mean) == (14, 6)


def test_semaphore_is_the_thread_pool_when_nothing_is_rejected() -> None:
    a = predict("async_semaphore", runs=300, seed=3)
    b = predict("thread_pool", runs=300, seed=3)
    assert a.makespan == b.makespan


def test_sliding_window_client_sends_two_per_window_plus_margin() -> None:
    s = replace(FIXED_3S, margin=0.01, overshoot=0.0)
    trace = run_model(model("sliding_window"), s, random.Random(0))
    assert [a.sent for a in trace.attempts] == pytest.approx(
        [(k // 2) * 1.01 for k in range(10)], abs=1e-9
    )
    assert trace.rejections == 0


# --- the reference figures (DESIGN.md) -----------------------------------------------


def test_thread_pool_prediction_matches_the_reference() -> None:
    p = predict("thread_pool", runs=4000, seed=1)
    assert p.makespan.mean == approx(18.46, 0.12)  # standard error 0.03 s
    assert p.makespan.stdev == approx(1.96, 0.1)
    assert p.rejections.max == 0


def test_token_bucket_prediction_matches_the_reference() -> None:
    p = predict("token_bucket", runs=4000, seed=1)
    assert p.makespan.mean == approx(9.11, 0.05)  # standard error 0.011 s
    assert p.makespan.stdev == approx(0.72, 0.05)
    assert p.rejections.max == 0


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window"])
def test_sliding_window_client_reaches_the_bound(strategy: Strategy) -> None:
    p = predict("sliding_window", replace(WRITEUP, strategy=strategy), runs=3000, seed=1)
    assert p.rejections.max == 0
    # Four gaps of T + margin (+ timer overshoot) behind the bound's schedule.
    assert p.makespan.mean == approx(bound().mean + 4 * (WRITEUP.margin + 0.0001), 0.05)


def test_sliding_window_counter_rejects_a_burst_at_a_clock_window_edge() -> None:
    # limits' sliding-window counter weighs the previous clock window's hits as
    # if spread evenly: after 2 hits in window k, a 2nd hit early in window k+1
    # sees 2 * (1 - f) + 1 >= 2 and is rejected unless f > 1/2. So "2 per any
    # T" is not enough against it; it depends where the batch starts.
    s = replace(FIXED_3S, strategy="sliding-window-counter", margin=0.01)
    early = run_model(best_schedule_model, replace(s, phase=0.2), random.Random(0))
    late = run_model(best_schedule_model, replace(s, phase=0.7), random.Random(0))
    assert early.rejections > 0
    assert late.rejections == 0
    # The sliding_window client, told the server's strategy, keeps the
    # counter's rule too: its 4th send waits until half way through window 1.
    client = run_model(
        model("sliding_window"), replace(s, phase=0.2, overshoot=0.0), random.Random(0)
    )
    assert client.rejections == 0
    assert [a.sent for a in client.attempts][:4] == pytest.approx(
        [0.0, 0.0, 1.01, 1.3 + 1e-5], abs=1e-9
    )


def test_sliding_window_client_under_the_counter_costs_little() -> None:
    s = replace(WRITEUP, strategy="sliding-window-counter")
    p = predict("sliding_window", s, runs=3000, seed=1)
    assert p.rejections.max == 0
    # From 1.00 x the bound (batch starting late in a clock window) to about
    # 1.04 (right after an edge): about 1.01 on average.
    assert p.makespan.mean / bound().mean == approx(1.015, 0.015)


def test_scale_multiplies_times_not_counts() -> None:
    full = predict("naive_gather", runs=50, seed=2)
    fast = predict("naive_gather", runs=50, seed=2, scale=0.1)
    assert fast.makespan.mean == approx(full.makespan.mean * 0.1)
    assert fast.rejections == full.rejections


def test_every_chat_client_is_predicted_or_says_why_not() -> None:
    for name in clients.local_clients():
        if model_for(name) is None:
            with pytest.raises(TheoryError, match="no model for client"):
                predict(name, runs=3)
        else:
            assert predict(name, runs=3).runs == 3
    with pytest.raises(clients.ConfigError, match="unknown client"):
        predict("telepathy")


# --- the server models ---------------------------------------------------------------


def random_hits(rng: random.Random, count: int = 400, rate: float = 5.0) -> list[float]:
    """Poisson arrivals at `rate` per second, in seconds."""
    t, hits = 0.0, []
    for _ in range(count):
        t += rng.expovariate(rate)
        hits.append(t)
    return hits


def test_fixed_window_never_accepts_more_than_the_limit_in_a_window() -> None:
    server = FixedWindow(limit=2, window=1.0)
    accepted = [t for t in random_hits(random.Random(1)) if server.hit(t)]
    for opened, _ in server.windows:
        assert sum(opened <= t < opened + 1.0 for t in accepted) <= 2
    # Windows open at a hit and never overlap.
    starts = [opened for opened, _ in server.windows]
    assert all(b >= a + 1.0 for a, b in itertools.pairwise(starts))


def test_fixed_window_counts_rejected_hits() -> None:
    server = FixedWindow(limit=2, window=1.0)
    assert [server.hit(t) for t in (0.0, 0.1, 0.2, 0.3, 1.0)] == [True, True, False, False, True]
    assert server.windows == [(0.0, 4), (1.0, 1)]


@pytest.mark.parametrize("client", ["naive_gather", "token_bucket", "thread_pool"])
def test_simulated_servers_keep_their_limit(client: str) -> None:
    for strategy in ("fixed-window", "moving-window"):
        scenario = replace(WRITEUP, strategy=strategy)
        for seed in range(20):
            trace = run_model(model(client), scenario, random.Random(seed))
            accepted = [a.arrived for a in trace.attempts if a.accepted]
            if strategy == "moving-window":
                for t in accepted:
                    assert sum(t - 1.0 <= u <= t for u in accepted) <= 2
            else:
                assert isinstance(trace.server, FixedWindow)
                for opened, _ in trace.server.windows:
                    assert sum(opened <= u < opened + 1.0 for u in accepted) <= 2


def test_moving_window_never_accepts_more_than_the_limit_in_any_trailing_window() -> None:
    server = MovingWindow(limit=3, window=2.0)
    accepted = [t for t in random_hits(random.Random(2)) if server.hit(t)]
    for t in accepted:
        assert sum(t - 2.0 <= u <= t for u in accepted) <= 3


def test_moving_window_rejects_hits_exactly_a_window_apart() -> None:
    server = MovingWindow(limit=1, window=1.0)
    assert [server.hit(t) for t in (0.0, 1.0, 1.5)] == [True, False, True]


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_models_agree_with_limits_itself(
    strategy: Strategy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same random hits through limits' own memory storage on a fake clock.
    now = fake_limits_clock(monkeypatch)
    storage = limits.storage.MemoryStorage()
    limiter = limits.strategies.STRATEGIES[strategy](storage)
    item = limits.parse("3/2 seconds")
    rng = random.Random(7)
    phase = 0.37
    epoch = 1000 * 2.0  # a multiple of the window, so the clock's phase is `phase`
    model = make_server(strategy, limit=3, window=2.0, phase=phase)
    theirs, ours = [], []
    for t in random_hits(rng, count=600, rate=3.0):
        now[0] = epoch + phase + t
        theirs.append(limiter.hit(item, "client"))
        ours.append(model.hit(t))
    assert ours == theirs
    assert 0 < sum(ours) < len(ours)  # the stream exercised both answers


def test_sliding_window_counter_weighs_the_previous_window() -> None:
    server = SlidingWindowCounter(limit=2, window=1.0, phase=0.0)
    assert server.hit(0.9)
    assert server.hit(0.95)
    # 0.25 into the next window: 2 * 0.75 = 1.5, floor 1, one more fits; then 2.5.
    assert server.hit(1.25)
    assert not server.hit(1.3)
    # Past the middle: 2 * 0.4 + 1 = 1.8 < 2.
    assert server.hit(1.6)


# --- the scenario and helpers --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 0}, "n must be"),
        ({"window": 0.0}, "window must be a positive number"),
        ({"initial_tokens": 3}, "initial_tokens"),
        ({"strategy": "leaky"}, "strategy must be one of"),
        ({"phase": 1.5}, "phase must be in"),
        ({"first_sleep": -1.0}, "first_sleep must be >= 0 seconds"),
    ],
)
def test_theory_input_rejects_bad_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TheoryError, match=message):
        TheoryInput(**change)


@pytest.mark.parametrize(("low", "high"), [(5, 2), (2, 2 * MAX_LATENCY), (math.nan, 2)])
def test_a_latency_out_of_bounds_is_refused_when_made(low: float, high: float) -> None:
    with pytest.raises(RatebenchError, match="must be 0 <= low <= high"):
        Latency(low, high)


def test_retry_schedules() -> None:
    assert WRITEUP.retry_sleeps() == (3, 6, 12, 24)
    assert replace(WRITEUP, retry="writeup").retry_sleeps() == (3, 9, 81, 6561)
    assert replace(WRITEUP, retry="none").retry_sleeps() == ()


def test_from_client_config_carries_the_knobs() -> None:
    cfg = ClientConfig(n=7, workers=3, rate=4.0, capacity=4, retry="writeup")
    s = from_client_config(cfg, limit=4, window=2.0, strategy="moving-window", margin=0.02)
    assert (s.n, s.workers, s.rate, s.capacity, s.retry, s.limit, s.window, s.margin) == (
        7,
        3,
        4.0,
        4,
        "writeup",
        4,
        2.0,
        0.02,
    )
    assert s.deadline == cfg.deadline


def test_littles_law() -> None:
    pool = littles_law(10, workers=2, mean_latency=3.5, limit=2, window=1.0)
    assert pool.bottleneck == "concurrency"
    assert pool.throughput == approx(2 / 3.5)
    assert pool.makespan == approx(17.5)
    wide = littles_law(10, workers=20, mean_latency=3.5, limit=2, window=1.0)
    assert (wide.bottleneck, wide.makespan) == ("limit", 5.0)


def test_bound_rejects_fractional_latencies_with_a_hint() -> None:
    with pytest.raises(TheoryError, match="HINT: use bound_monte_carlo"):
        bound(lo=2.5, hi=5)  # type: ignore[arg-type]
    assert isinstance(bound(), Bound)


# --- at scale ------------------------------------------------------------------------


def writeup_bucket(batch: VirtualBatch) -> list[Steps[object]]:
    """token_bucket as it runs, the write-up's own bucket: a wake-up per waiter per token."""
    c = batch.config
    bucket = TokenBucket(c.rate, c.capacity, c.initial_tokens, clock=batch.recorder.clock)
    return batch_loops(batch, bucket)


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_the_bucket_model_is_the_write_ups_bucket_without_its_wake_ups(strategy: Strategy) -> None:
    """The model runs FifoBucket; the write-up's own bucket gives the very same runs
    while the waiters are the batch's first attempts, and close ones when retries
    join the queue while it is long (a bucket 1.5 times over the limit)."""
    queued = model("token_bucket")
    s = replace(WRITEUP, strategy=strategy)
    a, b = predict(writeup_bucket, s, runs=200, seed=2), predict(queued, s, runs=200, seed=2)
    assert (a.makespan, a.rejections) == (b.makespan, b.rejections)
    over = replace(s, n=60, limit=20, latency=Latency(1, 2.5), rate=30, capacity=20)
    over = replace(over, first_sleep=0.7)
    a, b = predict(writeup_bucket, over, runs=60, seed=2), predict(queued, over, runs=60, seed=2)
    assert a.rejections.mean > 0
    assert b.rejections.mean == pytest.approx(a.rejections.mean, rel=0.05)
    assert b.makespan.mean == pytest.approx(a.makespan.mean, rel=0.05)


def test_theory_runs_fall_with_the_batch_size() -> None:
    from bench.theory.sim_runs import sim_runs_for

    ns = (1, 10, 12, 50, 300, 1000, 5000, 10_000, 50_000)
    assert [sim_runs_for(n) for n in ns] == [4000, 4000, 4000, 1000, 166, 50, 10, 10, 10]


@pytest.mark.parametrize("client", ["token_bucket", "sliding_window"])
def test_one_virtual_run_of_ten_thousand_requests_takes_seconds(client: str) -> None:
    # About 0.5 s of CPU on an idle machine; the write-up's bucket in the
    # simulator, or a scan per event, would take minutes.
    import time

    s = replace(WRITEUP, n=10_000, limit=100, rate=100, capacity=100, latency=Latency(1, 2))
    start = time.process_time()
    trace = run_model(model(client), s, random.Random(0))
    assert time.process_time() - start < 10.0
    assert trace.rejections == 0
    # 100 sends a second for 100 s, then the last latencies (and the margin, per window).
    assert 101.0 <= trace.makespan < 104.0
