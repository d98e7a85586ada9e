"""Theory's models of the OpenAI-endpoint clients (`bench.endpoints.openai.models`): no server."""

from __future__ import annotations

import math
import random

import clients
from bench.endpoints.openai.bound import Planned, Windows, plan_requests, two_limit_bound
from bench.endpoints.openai.models import (
    TwoLimitSimulation,
    TwoLimitWindow,
    predict_two_limit,
    simulate_run,
)
from bench.endpoints.registry import client_config
from bench.records.scenario import Scenario, request_bodies
from bench.theory.simulate import SimAttempt

LIMITS = Windows(requests=2, tokens=100, window=60.0)


def test_the_fixed_window_admits_both_limits_and_says_when_it_closes() -> None:
    server = TwoLimitWindow(LIMITS)
    assert server.admit(0.0, 40) is None  # opens the window
    assert server.admit(1.0, 70) == 59.0  # 40 + 70 > 100: wait for the window to close
    assert server.admit(2.0, 60) is None  # refusals count in neither limit
    assert server.admit(3.0, 1) == 57.0  # two requests already
    assert server.admit(60.0, 100) is None  # a new window opens at the first admission
    assert server.admit(61.0, 101) == math.inf  # too large for any window


def scenario(rpm: int, tpm: int, n: int, scale: float = 1.0) -> Scenario:
    return Scenario(api="openai", rpm=rpm, tpm=tpm, n=n, time_scale=scale)


def run_of(client: str, s: Scenario, seed: int = 1) -> tuple[float, int, int]:
    planned = plan_requests(request_bodies(s))
    limits = Windows.per_minute(s.rpm or 1, s.tpm or 1)
    r = simulate_run(
        client, planned, limits, client_config(s, "http://x/chat"), random.Random(seed)
    )
    return r.ended, r.rejections, r.lost


def test_the_sdk_serves_three_windows_and_loses_the_rest() -> None:
    # Ten at once against 2 a minute: each attempt is spaced by retry-after to the
    # next window, so three attempts reach three windows of two; four are lost.
    ended, rejections, lost = run_of("openai_sdk", scenario(2, 1_000_000, 10))
    assert lost == 10 - 3 * 2
    assert rejections == 8 + 6 + 4
    assert 120.0 < ended < 140.0  # the third window's two answered, the rest refused at once


def test_tenacity_loses_what_its_half_minute_of_waits_cannot_reach() -> None:
    # Its five waits are at most 1 + 2 + 4 + 8 + 16 = 31 s: short of the minute.
    ended, _, lost = run_of("openai_tenacity", scenario(5, 1_000_000, 20))
    assert lost == 15
    assert ended < 31.0 + 1.0
    assert run_of("openai_tenacity", scenario(5, 1_000_000, 5))[2] == 0


def test_budget_window_keeps_to_both_limits_and_the_bounds_schedule() -> None:
    for rpm, tpm in ((20, 100_000), (100, 10_000)):  # requests bind, then tokens
        s = scenario(rpm, tpm, 80)
        ended, rejections, lost = run_of("budget_window", s)
        assert (rejections, lost) == (0, 0)
        bound = two_limit_bound(plan_requests(request_bodies(s)), Windows.per_minute(rpm, tpm))
        # A margin of 100 ms per window later, and one latency draw from the bound's mean.
        assert bound.mean - 3 * bound.stdev - 1 < ended < bound.mean + 3 * bound.stdev + 1


def test_the_cookbook_processor_pays_a_pause_per_refusal() -> None:
    s = scenario(20, 100_000, 80)
    ended, rejections, lost = run_of("cookbook_parallel", s)
    assert rejections > 0  # its refill trickles sends into windows still full
    bound = two_limit_bound(plan_requests(request_bodies(s)), Windows.per_minute(20, 100_000))
    assert ended > bound.mean + 15  # at least one 15 s pause more than the bound
    # Nothing refused: a batch within one window's budget goes at once.
    _, rejections, lost = run_of("cookbook_parallel", scenario(20, 100_000, 20))
    assert (rejections, lost) == (0, 0)


def cookbook_sends(s: Scenario, seed: int) -> list[SimAttempt]:
    """The server's view of one simulated cookbook_parallel batch, in order of sending."""
    planned = plan_requests(request_bodies(s))
    rng = random.Random(seed)
    sim = TwoLimitSimulation(
        TwoLimitWindow(Windows.per_minute(s.rpm or 1, s.tpm or 1)), planned, rng, 1.0
    )
    loops = clients.virtual_loops("cookbook_parallel")
    assert loops is not None
    for steps in loops(sim.batch(client_config(s, "http://x/chat"))):
        sim.start(steps)
    sim.run()
    return sorted(sim.log, key=lambda a: a.sent)


def test_the_cookbook_processor_sends_a_refused_request_first_again() -> None:
    """As the published processor: its retry queue goes before every request not yet
    read, so once its 429 is back a refused request goes again in the next pause's
    burst, and at most one unread request (the one already waiting in the slot) goes
    before it. (It had put a refused request behind every unread one: one refusal
    each, spread over the batch.)"""
    for seed in range(3):
        sends = cookbook_sends(scenario(20, 100_000, 60), seed)
        for refused in (a for a in sends if not a.accepted):
            again = next(a for a in sends if a.request == refused.request and a.sent > refused.sent)
            first_sends = [
                a for a in sends if a.attempt == 0 and refused.finished < a.sent < again.sent
            ]
            assert len(first_sends) <= 1, (seed, refused)
        # The request refused first goes in three of the window's four pauses at least
        # (the request waiting in the slot goes first once).
        first = next(a for a in sends if not a.accepted)
        assert sum(a.request == first.request and a.sent < 60 for a in sends) >= 3


def test_the_prediction_is_in_scenario_seconds_at_any_time_scale() -> None:
    planned = [Planned(charge=10, max_tokens=5)] * 6
    limits = Windows(2, 1_000, 60.0)
    full, compressed = (
        predict_two_limit(
            "openai_sdk",
            planned,
            limits,
            client_config(scenario(2, 1000, 6, scale), "http://x/chat"),
            20,
        )
        for scale in (1.0, 0.1)
    )
    assert full.lost == compressed.lost == 0
    assert abs(full.mean - compressed.mean) < 1.0
