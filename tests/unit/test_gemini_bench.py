"""Gemini on the bench's side, without a server or a clock: the bound across days on
hand-checked sets, a 429's body as the clients read it, and the day's limiters on
fake time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.commands.requests import main as requests_main
from bench.endpoints.gemini.bound import Planned, QuotaError, earliest_sends, quota_bound
from bench.endpoints.gemini.limits import GeminiLimits
from bench.endpoints.gemini.requests import default_requests
from bench.records.requests_file import read_requests
from bench.running.shell_command import command_env
from bench.theory.latest_finish import LLMLatency
from clients.infra.attempts import Reply
from clients.infra.gemini_request_set import check_line, prompt_tokens, split
from clients.infra.request_set import RequestSetError
from clients.infra.steps import Sleep
from clients.limiters.budget_window import BudgetLog
from clients.limiters.day_quota import AllBudgets, DayLog, plan_days
from clients.limiters.retry_info import RetryInfoBudget
from clients.transports.gemini_send import GeminiReply, read_refusal
from mock_server.vocabulary import Latency

#: A latency of exactly 1 s: the makespan is the last send plus 1.
ONE_SECOND = LLMLatency(Latency(1, 1), 0.0)


def planned(n: int, charge: int = 10) -> list[Planned]:
    return [Planned(charge, 1) for _ in range(n)]


def test_the_bound_waits_for_each_day_to_open() -> None:
    # 2 a minute, 3 a day, a day of 2 minutes from midnight: day 0 takes two sends at
    # 0 and one at 60, then is full; day 1 opens at 120 (two), 180 (one); day 2 at 240.
    limits = GeminiLimits(rpm=2, itpm=1000, rpd=3, day_minutes=2)
    requests = planned(7)
    assert earliest_sends(requests, limits) == [0, 0, 60, 120, 120, 180, 240]
    bound = quota_bound(requests, limits, ONE_SECOND)
    assert bound.mean == pytest.approx(241.0, abs=0.01)
    assert (bound.days, bound.fewest_days, bound.binding) == (3, 3, "day")
    # No order does better: day 2 must open for the 7th request.
    assert bound.lower == pytest.approx(241.0, abs=0.01)


def test_a_late_start_in_the_day_ends_day_0_early() -> None:
    # From 12:00 Pacific, half a 2-minute day is left: day 1 opens at 60.
    limits = GeminiLimits(rpm=2, itpm=1000, rpd=3, day_minutes=2, day_start=12 * 60)
    assert limits.first_end == 60
    assert earliest_sends(planned(5), limits) == [0, 0, 60, 60, 120]


def test_input_tokens_bind_by_the_minute_and_too_large_is_refused() -> None:
    limits = GeminiLimits(rpm=100, itpm=25, rpd=100)
    assert earliest_sends(planned(5), limits) == [0, 0, 60, 60, 120]
    assert quota_bound(planned(5), limits, ONE_SECOND).binding == "tokens"
    with pytest.raises(QuotaError, match="more than the 25 a minute allows"):
        earliest_sends([Planned(26, 1)], limits)


def test_the_default_set_is_in_geminis_format_with_the_servers_charge() -> None:
    bodies = default_requests(3, seed=0)
    line = json.dumps(bodies[0])
    assert check_line(line) == bodies[0]
    request = split(0, bodies[0])
    assert "metadata" not in request.body
    assert request.charge == prompt_tokens(request.body) == bodies[0]["metadata"]["charge"]
    assert request.model == "gemini-2.5-flash"
    with pytest.raises(RequestSetError, match="server would refuse"):
        check_line('{"contents": []}')


# The 429, as Google's users have posted it.
POSTED = {
    "code": 429,
    "message": "You exceeded your current quota ... Please retry in 47.88s.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/"
                    "generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "quotaDimensions": {"model": "m", "location": "global"},
                },
                {
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                    "quotaValue": "250",
                },
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"},
    ],
}


def test_a_429_names_its_quotas_and_the_longer_wait() -> None:
    refusal = read_refusal(POSTED)
    assert refusal.kinds == ("day", "requests")
    assert refusal.per_day
    assert refusal.wait == pytest.approx(47.88)  # the message's, not retryDelay's 47
    assert refusal.value("day") == 250
    assert refusal.value("requests") is None


def test_the_day_log_waits_for_the_next_day_and_takes_back_a_refusal() -> None:
    days = DayLog(per_day=2, length=100.0, first_end=30.0, margin=0.5)
    both = AllBudgets((BudgetLog(10, 1000, 10.0, 0.0), days))
    both.record(0.0, 1)
    both.record(1.0, 1)
    assert both.earliest(2.0, 1) == pytest.approx(30.5)  # day 1 opens at 30
    both.refused(1.0, 1)
    assert both.earliest(2.0, 1) == 2.0
    assert plan_days(7, per_day=3, per_minute=2, first_end=120, length=120) == [3, 3, 1]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def day_refusal(wait: float) -> Reply:
    body = {
        "message": f"Please retry in {wait}s.",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}],
            }
        ],
    }
    refusal = read_refusal(body)
    return GeminiReply(429, "rate_limited", reopens_in=refusal.wait, refusal=refusal)


def test_after_a_days_refusal_no_send_until_the_day_opens_and_it_says_so() -> None:
    clock, said = Clock(), []
    budget = RetryInfoBudget(60.0, 0.1, 1.0, say=said.append, clock=clock)
    limiter = budget.for_request(5)
    assert list(limiter.acquire()) == []  # nothing known: it goes at once
    clock.now = 2.0
    limiter.release()
    limiter.observe(day_refusal(40.0))
    assert said[-1].startswith("=== 2.00 the day's quota is spent")
    steps = limiter.acquire()
    sleep = next(steps)
    assert isinstance(sleep, Sleep)
    assert sleep.seconds == pytest.approx(40.1)  # the wait named, and the margin
    clock.now = 42.1
    with pytest.raises(StopIteration):
        next(steps)
    assert said[-1] == "=== 42.10 the next day opened: resumed after waiting 40.10 s ==="
    assert budget.day_refusals == 1


def test_bench_requests_writes_a_gemini_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.jsonl"
    assert requests_main(["--api", "gemini", "--n", "3", "--out", str(out)]) == 0
    assert "wrote 3 requests" in capsys.readouterr().out
    bodies = read_requests(out, "gemini")
    assert [b["metadata"]["request"] for b in bodies] == [0, 1, 2]
    assert all(b["metadata"]["charge"] == prompt_tokens(b) for b in bodies)


def test_a_command_finds_the_server_where_the_google_genai_sdk_looks() -> None:
    env = command_env("http://127.0.0.1:9", 3, 0.5, api_key="k")
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:9"
    assert env["GEMINI_API_KEY"] == "k"
