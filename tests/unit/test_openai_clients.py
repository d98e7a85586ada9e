"""The LLM endpoint's clients in fake time: the budget log, the header-adaptive
limiter and the cookbook's budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bench.endpoints.openai.bound import Windows, plan_requests, two_limit_bound
from bench.theory.latest_finish import LLMLatency
from clients import ClientConfig, run_client
from clients.infra.attempts import Reply
from clients.infra.steps import Sleep, Steps
from clients.limiters.budget_window import BudgetLog, BudgetWindowLimiter
from mock_server.vocabulary import Latency

# -- the rule, in fake time ---------------------------------------------------------


def test_the_log_waits_for_the_request_count() -> None:
    log = BudgetLog(requests=2, tokens=100, window=10, margin=0.5)
    log.record(0.0, 60)
    assert log.earliest(0.0, 30) == 0.0  # 1 send, 60 + 30 tokens: room for both
    log.record(0.0, 30)
    assert log.earliest(1.0, 1) == 10.5  # two sends: the older leaves at 0 + 10 + 0.5


def test_the_log_waits_until_enough_tokens_left_the_window() -> None:
    log = BudgetLog(requests=10, tokens=100, window=10, margin=0.0)
    log.record(0.0, 60)
    log.record(2.0, 30)
    assert log.earliest(3.0, 10) == 3.0  # 90 + 10 fits
    assert log.earliest(3.0, 50) == 10.0  # once the 60 has left
    assert log.earliest(3.0, 80) == 12.0  # once both have left
    assert log.earliest(3.0, 500) == 12.0  # too large: once the log is empty


def drive_in_fake_time(gens: list[Steps[float]], now: list[float]) -> list[float]:
    """Run limiter acquisitions one after the other on a fake clock; the times they got."""
    got = []
    for gen in gens:
        value: Any = None
        while True:
            try:
                step = gen.send(value)
            except StopIteration:
                break
            assert isinstance(step, Sleep)
            now[0] += step.seconds
            value = None
        got.append(now[0])
    return got


def test_the_limiter_sends_in_file_order_as_soon_as_both_allow() -> None:
    now = [0.0]
    limiter = BudgetWindowLimiter(BudgetLog(3, 100, 10, 0.0), clock=lambda: now[0])
    charges = [60, 60, 10, 10, 10]
    # 60 | 60 10 10 (three sends: full) | 10 : the greedy windows of two_limit.
    times = drive_in_fake_time([limiter.for_request(c).acquire() for c in charges], now)
    assert times == [0.0, 10.0, 10.0, 10.0, 20.0]
    limits = Windows(3, 100, 10)
    bound = two_limit_bound(plan_requests(_bodies(charges)), limits, LLMLatency(Latency(1, 1), 0.0))
    assert bound.windows == 3


def _bodies(charges: list[int]) -> list[dict[str, Any]]:
    # A prompt of 7 tokens (the framing of one empty user message) and the rest as max_tokens.
    return [{"messages": [{"role": "user", "content": ""}], "max_tokens": c - 7} for c in charges]


def test_a_config_without_a_request_set_is_refused() -> None:
    from clients import ConfigError

    with pytest.raises(ConfigError, match="python -m bench requests"):
        run_client("budget_window", replace(ClientConfig(rpm=1, tpm=1), n=1))


def test_a_refused_send_is_taken_back_out_of_the_log() -> None:
    now = [0.0]
    limiter = BudgetWindowLimiter(BudgetLog(1, 100, 10, 0.0), clock=lambda: now[0])
    first = limiter.for_request(10)
    drive_in_fake_time([first.acquire()], now)
    first.observe(Reply(429, "rate_limited"))  # the server counted it in neither limit
    assert drive_in_fake_time([limiter.for_request(10).acquire()], now) == [0.0]


def test_header_adaptive_learns_the_limit_and_the_wait_from_a_429() -> None:
    from clients.limiters.header_adaptive import AdaptiveBudget
    from clients.transports.learned import Learned, LLMReply
    from clients.transports.openai_send import learn

    now = [0.0]
    shared = AdaptiveBudget(window=10, margin=0.0, fallback=1.0, clock=lambda: now[0])
    views = [shared.for_request(5) for _ in range(3)]
    assert drive_in_fake_time([v.acquire() for v in views], now) == [0.0, 0.0, 0.0]
    # The third is refused; its body alone (headers off) names the limit and the wait.
    body = {
        "message": "Rate limit reached for m in organization org-x on requests per min (RPM): "
        "Limit 2, Used 2, Requested 1. Please try again in 9.5s. Visit the page.",
        "type": "requests",
    }
    learned = learn({}, body)
    assert learned == Learned(limits={"requests": 2}, wait=9.5, refused_by="requests")
    views[2].observe(LLMReply(429, "rate_limited", reopens_in=learned.wait, learned=learned))
    assert shared.known == (2, None)
    # Two sends are in the last 10 s: the next goes when the first leaves, after the pause.
    assert drive_in_fake_time([views[2].acquire()], now) == [10.0]


def test_the_cookbook_budget_refills_continuously_and_pauses_after_a_rate_limit() -> None:
    from clients.limiters.cookbook_bucket import CookbookBudget

    now = [0.0]
    shared = CookbookBudget(2, 100, window=10, cooldown=15, clock=lambda: now[0])
    views = [shared.for_request(10) for _ in range(4)]
    # A minute's worth at once, then one request's capacity every 10 / 2 = 5 s.
    assert drive_in_fake_time([v.acquire() for v in views[:3]], now) == [0.0, 0.0, 5.0]
    # A 429 too large for the TPM says no "rate limit": the processor does not pause.
    views[2].observe(Reply(429, "rate_limited", detail="Request too large for m on TPM"))
    assert drive_in_fake_time([views[2].acquire()], now) == [10.0]
    # Its message is what it reads, not the status: a rate limit pauses everyone 15 s.
    views[2].observe(Reply(429, "rate_limited", detail="Rate limit reached for m on RPM"))
    assert drive_in_fake_time([views[3].acquire()], now) == [25.0]


def test_the_log_keeps_the_sliding_window_counters_rule_when_told() -> None:
    # Clock windows [0, 10), [10, 20); two sends early in the first.
    log = BudgetLog(requests=2, tokens=1000, window=10, margin=0.0, counter=True)
    log.record(1.0, 1)
    log.record(1.0, 1)
    # At 11 the log rule allows one; the counter weighs the first window's two
    # by 1 - f = 0.9: floor(1.8) + 1 <= 2, so it goes.
    assert log.earliest(11.0, 1) == 11.0
    log.record(11.0, 1)
    # The next needs floor(2 x (1 - f) + 1) + 1 <= 2: f > 1/2, at 15 s.
    assert log.earliest(11.0, 1) == pytest.approx(15.0, abs=1e-3)
    plain = BudgetLog(requests=2, tokens=1000, window=10, margin=0.0)
    for at in (1.0, 1.0, 11.0):
        plain.record(at, 1)
    assert plain.earliest(11.0, 1) == 11.0  # "2 in any 10 s" alone would send at once
