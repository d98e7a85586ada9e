"""The two-limit bound on hand-checked request sets (no server, no clock)."""

from __future__ import annotations

import random

import pytest

from bench.endpoints.openai.bound import (
    PHASES,
    Planned,
    TwoLimitError,
    Windows,
    counter_sends,
    fewest_windows,
    greedy_windows,
    plan_request,
    two_limit_bound,
)
from bench.theory.latest_finish import LLMLatency, latest_finish
from mock_server.limits import TwoLimits
from mock_server.vocabulary import Latency
from tests.helpers import WALL, fake_limits_clock, two_windows

TOL = 2e-3  # the grid's error on a step-shaped distribution


def planned(*charges: int, max_tokens: int = 1) -> list[Planned]:
    return [Planned(c, max_tokens) for c in charges]


def test_greedy_fills_each_window_in_file_order_until_either_limit_is_full() -> None:
    limits = Windows(requests=2, tokens=100, window=60)
    # 50+40 (two requests: full); 30 (+80 would be 110 tokens); 80+10.
    requests = planned(50, 40, 30, 80, 10)
    assert greedy_windows(requests, limits) == [0, 0, 1, 2, 2]
    assert fewest_windows(requests, limits) == 3  # ceil(5 / 2) = ceil(210 / 100) = 3


def test_file_order_can_need_more_windows_than_any_order() -> None:
    limits = Windows(requests=10, tokens=100, window=60)
    requests = planned(60, 60, 40, 40)  # in order: 60 | 60+40 | 40; sorted: 60+40 | 60+40
    assert greedy_windows(requests, limits) == [0, 1, 1, 2]
    assert fewest_windows(requests, limits) == 2
    bound = two_limit_bound(requests, limits, LLMLatency(Latency(1, 1), 0.0))
    assert bound.windows == 3
    assert bound.lower_windows == 2
    assert bound.mean == pytest.approx(121.0, abs=TOL)  # sent at 120 s, 1 s each
    assert bound.lower == pytest.approx(61.0, abs=TOL)
    assert bound.binding == "tokens"
    assert bound.exact


def test_a_request_larger_than_a_window_allows_has_no_schedule() -> None:
    with pytest.raises(TwoLimitError, match="request 1 is charged 101 tokens"):
        greedy_windows(planned(10, 101), Windows(5, 100, 60))


def test_per_minute_limits_in_quantized_slices_are_the_servers() -> None:
    assert Windows.per_minute(600, 10_000, quantize=1.0) == Windows(10, 166, 1.0)
    assert Windows.per_minute(60, 1000) == Windows(60, 1000, 60.0)


def test_the_charge_is_the_servers_estimate() -> None:
    body = {"messages": [{"role": "user", "content": "abcd" * 10}], "max_tokens": 30}
    # 2 priming + 4 framing + 1 ("user") + 10 (40 characters) = 17 prompt tokens.
    assert plan_request(body) == Planned(17 + 30, 30)
    assert plan_request({**body, "n": 2}).charge == 17 + 60


def test_expected_latest_finish_of_whole_second_first_tokens() -> None:
    latency = LLMLatency(Latency(2, 5), 0.0)
    # One request: the mean of randint(2, 5). Two: P(max <= k) = ((k - 1) / 4)^2,
    # so E = (2 x 1 + 3 x 3 + 4 x 5 + 5 x 7) / 16 = 66 / 16.
    assert latest_finish([(0.0, 1)], latency)[0] == pytest.approx(3.5, abs=TOL)
    assert latest_finish([(0.0, 1), (0.0, 1)], latency)[0] == pytest.approx(66 / 16, abs=TOL)
    _mean, stdev = latest_finish([(0.0, 1)], latency)
    assert stdev == pytest.approx((15 / 12) ** 0.5, abs=TOL)  # randint(2, 5): variance 5/4


def test_expected_latest_finish_with_output_tokens() -> None:
    # ttft 1 s, 0.5 s per token after the first, up to 3 tokens: 1, 1.5 or 2 s.
    latency = LLMLatency(Latency(1, 1), 0.5)
    assert latest_finish([(0.0, 3)], latency)[0] == pytest.approx(1.5, abs=TOL)
    # Two of them: P(max <= 1) = 1/9, P(max <= 1.5) = 4/9: E = (1 + 4.5 + 10) / 9.
    assert latest_finish([(0.0, 3), (0.0, 3)], latency)[0] == pytest.approx(15.5 / 9, abs=TOL)
    # One sent 10 s later decides alone.
    assert latest_finish([(0.0, 3), (10.0, 3)], latency)[0] == pytest.approx(11.5, abs=TOL)


def test_expected_latest_finish_of_uniform_first_tokens() -> None:
    latency = LLMLatency(Latency(0.5, 1.5), 0.0)
    # The max of two U(0.5, 1.5): 0.5 + 2/3.
    assert latest_finish([(0.0, 1), (0.0, 1)], latency)[0] == pytest.approx(0.5 + 2 / 3, abs=TOL)
    mixed = LLMLatency(Latency(0.25, 0.75), 1.0)
    assert latest_finish([(0.0, 2)], mixed)[0] == pytest.approx(mixed.mean(2), abs=TOL)
    assert mixed.mean(2) == pytest.approx(1.0)


def test_requests_bind_and_the_last_window_decides() -> None:
    limits = Windows(requests=2, tokens=10_000, window=60)
    bound = two_limit_bound(planned(10, 10, 10, 10, 10), limits, LLMLatency(Latency(1, 1), 0.0))
    assert (bound.windows, bound.binding) == (3, "requests")
    assert bound.mean == pytest.approx(121.0, abs=TOL)
    moving = two_limit_bound(
        planned(10, 10, 10), limits, LLMLatency(Latency(1, 1), 0.0), "moving-window"
    )
    assert not moving.exact
    assert moving.lower <= moving.mean


# --- limits' sliding-window counter ----------------------------------------------------

COUNTER = "sliding-window-counter"


def test_the_counter_paces_the_window_after_a_full_one() -> None:
    # R = 2 per 1 s, clock windows [0, 1), [1, 2), ...: two at once; then the
    # previous 2 weigh 2 x (1 - f), so the next goes just after 1 s, the one
    # after it once 2 (1 - f) + 1 < 2, just after 1.5 s; and so on.
    limits = Windows(requests=2, tokens=1000, window=1.0)
    sends = counter_sends(planned(1, 1, 1, 1, 1, 1), limits, phase=0.0)
    assert sends == pytest.approx([0, 0, 1, 1.5, 2, 2.5], abs=1e-12)
    # Each is the first instant admitted: the weight's crossing is refused (`<`).
    assert sends[2] > 1
    assert sends[3] > 1.5
    # Started half a window in, the second clock window opens at 0.5 s: four
    # sends within 1 s, where the fixed window admits two.
    late = counter_sends(planned(1, 1, 1, 1, 1, 1), limits, phase=0.5)
    assert late == pytest.approx([0, 0, 0.5, 1, 1.5, 2], abs=1e-12)


def test_the_counter_weighs_tokens_by_charge() -> None:
    # T = 10 per 1 s, charges of 4: a send fits while floor(weighted) + 4 <= 10,
    # that is weighted < 7. Two at 0 (8 tokens); then 8 (1 - f) < 7 after 1/8 of
    # the next window, 8 (1 - f) + 4 < 7 after 5/8, and again 1/8 into the third.
    limits = Windows(requests=100, tokens=10, window=1.0)
    sends = counter_sends(planned(4, 4, 4, 4, 4), limits, phase=0.0)
    assert sends == pytest.approx([0, 0, 1.125, 1.625, 2.125], abs=1e-12)
    bound = two_limit_bound(planned(4, 4, 4, 4, 4), limits, LLMLatency(Latency(1, 1), 0.0), COUNTER)
    assert bound.binding == "tokens"


def test_the_counter_bound_is_the_mean_over_the_phase() -> None:
    # R = 2 per 1 s, five requests, the batch p into a clock window: two at 0;
    # the third just after the next window opens (1 - p), the fourth halfway
    # through it; the fifth just after the third window opens, at 2 - p. Over
    # a uniform phase: 1.5 s, + 1 s of latency, with the phase's spread.
    limits = Windows(requests=2, tokens=1000, window=1.0)
    bound = two_limit_bound(planned(1, 1, 1, 1, 1), limits, LLMLatency(Latency(1, 1), 0.0), COUNTER)
    assert bound.mean == pytest.approx(2.5, abs=TOL)
    assert bound.stdev == pytest.approx((1 / 12) ** 0.5, abs=0.01)  # uniform phase
    assert bound.phases == PHASES
    assert not bound.exact
    # K = 3 clock windows: t_last >= 2 - p, 1.5 on average, + 1 s of latency;
    # the schedule reaches it here (each window full at its opening).
    assert bound.lower == pytest.approx(2.5, abs=TOL)
    assert "counter" in bound.words()
    assert "mean over the phase" in bound.words()


def test_the_counter_costs_more_than_fixed_windows_once_they_are_full() -> None:
    # Requests bind over several full windows: the counter spreads each window
    # after the first over the whole window, where the fixed window sends it at
    # its start. With one request past a full window, the counter is sooner:
    # its second clock window opens before W (why its lower bound differs).
    latency = LLMLatency(Latency(1, 1), 0.0)
    limits = Windows(requests=20, tokens=100_000, window=60.0)
    for n in (40, 60, 80):
        fixed = two_limit_bound(planned(*[100] * n), limits, latency)
        counter = two_limit_bound(planned(*[100] * n), limits, latency, COUNTER)
        assert counter.mean > fixed.mean + 0.3 * limits.window, n
        assert counter.lower <= counter.mean
    fixed = two_limit_bound(planned(*[100] * 21), limits, latency)
    counter = two_limit_bound(planned(*[100] * 21), limits, latency, COUNTER)
    assert counter.mean == pytest.approx(fixed.mean - limits.window / 2, abs=TOL)
    assert counter.lower == pytest.approx(counter.mean, abs=TOL)


def test_each_counter_send_is_admitted_by_the_server_and_not_a_millisecond_sooner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's own two limits (limits' memory storage) on a fake clock that
    # reads phase + t, as the model does; both limits bind in turn. The phase is
    # the clock's reading at the batch's start, 0.73 s into a window: limits'
    # previous key truncates toward zero, so its clock must be past a window.
    now = fake_limits_clock(monkeypatch)
    rng = random.Random(3)
    requests = planned(*[rng.randint(10, 400) for _ in range(40)])
    window, phase = 2.0, 1000 * 2.0 + 0.73
    sends = counter_sends(requests, Windows(4, 1000, window), phase)
    from limits.storage import MemoryStorage

    server = TwoLimits(COUNTER, MemoryStorage(), 4, 1000, window, clock=lambda: now[0])
    previous = 0.0
    refusals = set()
    for r, t in zip(requests, sends, strict=True):
        if t > previous:
            now[0] = phase + max(previous, t - 0.001)
            refused = server.admit(r.charge).refused
            assert refused in ("requests", "tokens"), (t, refused)
            refusals.add(refused)
        now[0] = phase + t
        assert server.admit(r.charge).accepted, t
        previous = t
    assert refusals == {"requests", "tokens"}


def test_where_tokens_bind_the_counter_can_beat_windows_packed_in_file_order() -> None:
    # 60 | 60 40 | 40 per window of 100 tokens wastes 40 in the first window; the
    # counter admits each charge once the weight leaves room for it. From phase p:
    # 60 at 0; 60 when 60 (1 - f) < 41 in the next clock window (f > 19/60); 40
    # when 60 (1 - f) + 60 < 61 (f > 59/60); 40 in the third once 100 (1 - f) < 61
    # (f > 0.39): at 120 + 23.4 - p, 113.4 s over the phase, + 1 s.
    limits = Windows(requests=10, tokens=100, window=60)
    requests = planned(60, 60, 40, 40)
    latency = LLMLatency(Latency(1, 1), 0.0)
    counter = two_limit_bound(requests, limits, latency, COUNTER)
    assert counter.mean == pytest.approx(114.4, abs=TOL)
    assert two_limit_bound(requests, limits, latency).mean == pytest.approx(121.0, abs=TOL)


def test_one_runs_counter_bound_is_its_phases() -> None:
    from dataclasses import replace

    from bench.endpoints.openai.bound import (
        counter_makespan,
        counter_phase_makespan,
        counter_phases,
        run_phase,
    )

    limits = Windows(2, 1_000, 60.0)
    requests = [Planned(charge=10, max_tokens=5)] * 6
    phases = counter_phases(60.0, 4)
    means = [counter_phase_makespan(requests, limits, LLMLatency(), p)[0] for p in phases]
    mean, _, _ = counter_makespan(requests, limits, LLMLatency(), phases=4)
    assert abs(sum(means) / 4 - mean) < 1e-9
    assert len(set(round(m, 6) for m in means)) > 1  # the phase matters
    # The phase is read off the server's clock: a batch starting 1.5 s (wall) into
    # a clock window of 6 s (a minute at time scale 0.1) is 15 scenario seconds in.
    run = two_windows()
    minute = 60 * run.scenario.time_scale
    shifted = replace(
        run,
        server_log=tuple(
            replace(e, wall=(e.wall or 0.0) - WALL % minute + 1.5) for e in run.server_log
        ),
    )
    assert abs(run_phase(shifted) - 15.0) < 0.02
