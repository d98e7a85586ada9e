"""The two-limit bound on hand-checked request sets (no server, no clock)."""

from __future__ import annotations

import pytest

from bench.two_limit import (
    LLMLatency,
    Planned,
    TwoLimitError,
    Windows,
    fewest_windows,
    greedy_windows,
    latest_finish,
    plan_request,
    two_limit_bound,
)

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
    bound = two_limit_bound(requests, limits, LLMLatency(1, 1, 0.0))
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
    latency = LLMLatency(2, 5, 0.0)
    # One request: the mean of randint(2, 5). Two: P(max <= k) = ((k - 1) / 4)^2,
    # so E = (2 x 1 + 3 x 3 + 4 x 5 + 5 x 7) / 16 = 66 / 16.
    assert latest_finish([(0.0, 1)], latency)[0] == pytest.approx(3.5, abs=TOL)
    assert latest_finish([(0.0, 1), (0.0, 1)], latency)[0] == pytest.approx(66 / 16, abs=TOL)
    _mean, stdev = latest_finish([(0.0, 1)], latency)
    assert stdev == pytest.approx((15 / 12) ** 0.5, abs=TOL)  # randint(2, 5): variance 5/4


def test_expected_latest_finish_with_output_tokens() -> None:
    # ttft 1 s, 0.5 s per token after the first, up to 3 tokens: 1, 1.5 or 2 s.
    latency = LLMLatency(1, 1, 0.5)
    assert latest_finish([(0.0, 3)], latency)[0] == pytest.approx(1.5, abs=TOL)
    # Two of them: P(max <= 1) = 1/9, P(max <= 1.5) = 4/9: E = (1 + 4.5 + 10) / 9.
    assert latest_finish([(0.0, 3), (0.0, 3)], latency)[0] == pytest.approx(15.5 / 9, abs=TOL)
    # One sent 10 s later decides alone.
    assert latest_finish([(0.0, 3), (10.0, 3)], latency)[0] == pytest.approx(11.5, abs=TOL)


def test_expected_latest_finish_of_uniform_first_tokens() -> None:
    latency = LLMLatency(0.5, 1.5, 0.0)
    # The max of two U(0.5, 1.5): 0.5 + 2/3.
    assert latest_finish([(0.0, 1), (0.0, 1)], latency)[0] == pytest.approx(0.5 + 2 / 3, abs=TOL)
    mixed = LLMLatency(0.25, 0.75, 1.0)
    assert latest_finish([(0.0, 2)], mixed)[0] == pytest.approx(mixed.mean(2), abs=TOL)
    assert mixed.mean(2) == pytest.approx(1.0)


def test_requests_bind_and_the_last_window_decides() -> None:
    limits = Windows(requests=2, tokens=10_000, window=60)
    bound = two_limit_bound(planned(10, 10, 10, 10, 10), limits, LLMLatency(1, 1, 0.0))
    assert (bound.windows, bound.binding) == (3, "requests")
    assert bound.mean == pytest.approx(121.0, abs=TOL)
    moving = two_limit_bound(planned(10, 10, 10), limits, LLMLatency(1, 1, 0.0), "moving-window")
    assert not moving.exact
    assert moving.lower <= moving.mean
