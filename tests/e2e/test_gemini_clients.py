"""The Gemini clients against a real server process at a compressed time scale with a
short day, judged from the server's log; and `python -m bench --api gemini` end to end."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.endpoints.gemini.bound import quota_bound, scenario_plan
from bench.endpoints.gemini.limits import GeminiLimits
from bench.endpoints.gemini.requests import make_requests
from bench.endpoints.registry import format_simulation
from bench.records.requests_file import parse_distribution, write_requests
from bench.records.scenario import Scenario
from clients import ClientConfig, run_client
from mock_server.processes.server import MockServer
from tests.helpers import run_cli

SCALE = 0.02  # a minute lasts 1.2 s, a day of 2 minutes 2.4 s
RPM, RPD, DAY_MINUTES, N = 3, 5, 2, 8  # day 0: 3 at 0, 2 at 60; day 1 opens at 120: 3
#: Wall seconds an attempt already on the wire when a 429 left may still arrive.
ON_THE_WIRE = 0.25


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    args = ("--rpm", str(RPM), "--rpd", str(RPD), "--day-minutes", str(DAY_MINUTES))
    with MockServer(seed=3, time_scale=SCALE, extra_args=args) as started:
        yield started


@pytest.fixture(scope="module")
def request_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("set") / "requests.jsonl"
    fixed = parse_distribution("fixed:20", "--prompt-tokens")
    write_requests(path, make_requests(N, 0, fixed, parse_distribution("fixed:10", "x")))
    return path


def config(server: MockServer, request_set: Path) -> ClientConfig:
    return ClientConfig(
        url=server.chat_url,
        n=N,
        time_scale=SCALE,
        rpm=RPM,
        itpm=250_000,
        rpd=RPD,
        day_minutes=DAY_MINUTES,
        requests_file=str(request_set),
        api="gemini",
        deadline=1000,
    )


def run(name: str, server: MockServer, request_set: Path) -> tuple[Any, list[dict[str, Any]]]:
    """Run `name` against a server reset just before (its day clock starts with the
    batch, as the bench's lanes do); the run and the server's Gemini entries."""
    import aiohttp  # noqa: F401  (imported before the reset, as a lane's process has)
    import google.genai  # noqa: F401

    lines: list[str] = []
    server.reset(seed=3)
    result = run_client(name, config(server, request_set), lines.append)
    entries = [e for e in server.log() if e.get("endpoint") == "generateContent"]
    return (result, lines), entries


def admitted_per(entries: list[dict[str, Any]], key: str) -> Counter[int]:
    return Counter(e[key] for e in entries if e.get("accepted"))


def test_gemini_budget_plans_its_days_and_is_never_refused(
    server: MockServer, request_set: Path
) -> None:
    (result, lines), entries = run("gemini_budget", server, request_set)
    assert result.completed == N
    assert [e for e in entries if e.get("status") == 429] == []
    assert max(admitted_per(entries, "minute").values()) <= RPM
    assert admitted_per(entries, "day") == {0: RPD, 1: N - RPD}
    assert any("need 2 days (5, 3)" in line for line in lines)
    scenario = Scenario(api="gemini", rpm=RPM, rpd=RPD, day_minutes=DAY_MINUTES, n=N)
    bound = quota_bound(scenario_plan(scenario), GeminiLimits.of(scenario))
    # The margins (100 ms a minute, a day's opening) on a busy machine, at time scale 0.02.
    assert result.makespan / SCALE <= 1.1 * bound.mean


def test_gemini_retryinfo_waits_for_the_next_day_after_its_first_per_day_429(
    server: MockServer, request_set: Path
) -> None:
    (result, lines), entries = run("gemini_retryinfo", server, request_set)
    assert result.completed == N
    day_refused = [e for e in entries if "rpd" in (e.get("refused_by") or [])]
    assert day_refused, "the day's quota never refused it: the scenario does not test it"
    first = min(day_refused, key=lambda e: e["arrival"])
    learned = first["left"] or first["decided"]
    late = [e for e in entries if e["day"] == first["day"] and e["arrival"] > learned + ON_THE_WIRE]
    assert late == [], "attempts in the spent day after its first per-day 429 came back"
    assert admitted_per(entries, "day")[first["day"] + 1] > 0
    assert any("no attempt until the next day opens" in line for line in lines)
    assert any("the next day opened: resumed after waiting" in line for line in lines)


def test_google_genai_as_shipped_tries_once_and_with_retry_options_five_times(
    server: MockServer, request_set: Path
) -> None:
    (once, _), entries = run("gemini_sdk", server, request_set)
    # One attempt each: what the first minute refused is lost.
    assert len(entries) == len(once.attempts) == N
    assert RPM <= once.completed < N
    (retried, _), entries = run("gemini_sdk_retry", server, request_set)
    tries = Counter(a.request for a in retried.attempts)
    done = {a.request for a in retried.attempts if a.outcome == "ok"}
    # Five attempts for each request it lost (the SDK's work per attempt on a busy
    # machine may carry a retry into the next minute, which admits it).
    assert {tries[r] for r in range(N) if r not in done} == {5}
    assert RPM <= retried.completed < N
    assert len(entries) == len(retried.attempts)


def test_bench_api_gemini_end_to_end(tmp_path: Path) -> None:
    scenario = Scenario(api="gemini", rpm=3, rpd=4, day_minutes=2, n=6)
    simulated = format_simulation(scenario, ["gemini_budget", "gemini_sdk"], runs=10)
    assert "Best possible under the three quotas" in simulated
    assert "2 days, day bind" in simulated
    assert "loses 3.0 of 6 requests" in simulated  # the SDK: one attempt each
    done = run_cli(
        "bench", "--api", "gemini", "-n", "4", "--rpm", "2", "--rpd", "3",
        "--day-minutes", "1", "--time-scale", "0.02", "--clients", "gemini_budget",
        "--runs", "1", "--jobs", "1", "--theory-runs", "10", "--out", str(tmp_path), "--name", "g",
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "three-quota bound" in done.stdout
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert summary["results"][0]["command"] == "gemini_budget"
    assert (tmp_path / "g" / "quotas.png").is_file()
