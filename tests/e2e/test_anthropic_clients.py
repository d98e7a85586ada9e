"""Anthropic's clients against a real server process at a compressed time scale,
judged from the server's log: no bucket ever gave more than its capacity plus its
refill, the client that keeps the buckets and the one that learns them are never
refused, the SDK's records are the server's, and the bench runs it all end to end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.endpoints.anthropic.bound import plan_requests, three_bucket_bound
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.records.requests_file import make_requests, parse_distribution, write_requests
from clients import ClientConfig, run_client
from mock_server.processes.server import MockServer
from tests.helpers import run_cli

SCALE = 0.025  # a minute lasts 1.5 s
RPM, ITPM, OTPM, N = 6, 400, 100_000, 10  # requests bind: 6 at once, then one every 10 s
LIMITS = AnthropicLimits(RPM, ITPM, OTPM, "max-tokens")
SLACK = 1e-3  # seconds of the server's clock between two readings of one decision


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    args = (
        "--rpm", str(RPM), "--itpm", str(ITPM), "--otpm", str(OTPM),
        "--otpm-charge", "max-tokens", "--ttft", "0.5-1.5", "--token-time", "0.01",
    )  # fmt: skip
    with MockServer(seed=3, time_scale=SCALE, extra_args=args) as started:
        yield started


@pytest.fixture(scope="module")
def request_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("set") / "requests.jsonl"
    prompts = parse_distribution("fixed:40", "--prompt-tokens")
    write_requests(
        path, make_requests(N, 0, prompts, parse_distribution("fixed:20", "x"), api="anthropic")
    )
    return path


def messages(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/messages"]


def config(server: MockServer, request_set: Path) -> ClientConfig:
    return ClientConfig(
        url=server.chat_url,
        n=N,
        time_scale=SCALE,
        api="anthropic",
        rpm=RPM,
        itpm=ITPM,
        otpm=OTPM,
        otpm_charge="max-tokens",
        server_strategy="token-bucket",
        requests_file=str(request_set),
        deadline=400,
    )


def assert_buckets_held(log: list[dict[str, Any]]) -> None:
    """No span of the log's admissions charged a bucket more than its capacity plus
    its refill over the span (wall seconds at the time scale)."""
    admitted = sorted((e["wall"], e["input_charged"]) for e in log if e["accepted"])
    for capacity, cost in ((RPM, lambda c: 1), (ITPM, lambda c: c)):
        rate = capacity / (60 * SCALE)
        for i, (start, _) in enumerate(admitted):
            total = 0
            for at, charged in admitted[i:]:
                total += cost(charged)
                assert total <= capacity + rate * (at - start + SLACK), (capacity, start, at)


def test_budget_window_keeps_the_three_buckets_with_no_429(
    server: MockServer, request_set: Path
) -> None:
    server.reset(seed=3)
    run = run_client("budget_window", config(server, request_set))
    log = messages(server)
    assert run.completed == N
    assert [e for e in log if not e["accepted"]] == []
    assert_buckets_held(log)
    # The starting fill at once, then the refill: input binds (40 + framing a request,
    # 400 a minute), the bound's schedule a margin later.
    bound = three_bucket_bound(plan_requests(make_requests(
        N, 0, parse_distribution("fixed:40", "x"), parse_distribution("fixed:20", "x"),
        api="anthropic")), LIMITS)  # fmt: skip
    assert bound.binding in ("requests", "input tokens")
    seconds = run.makespan / SCALE
    assert bound.mean - 1.0 < seconds < bound.mean + 12.0, (seconds, bound.mean)


def test_header_adaptive_learns_the_buckets_from_its_first_answer(
    server: MockServer, request_set: Path
) -> None:
    server.reset(seed=3)
    told_nothing = replace(config(server, request_set), rpm=None, itpm=None, otpm=None)
    run = run_client("header_adaptive", told_nothing)
    log = messages(server)
    assert run.completed == N
    assert [e for e in log if not e["accepted"]] == []  # its first request went alone
    assert_buckets_held(log)


def test_the_anthropic_sdk_is_recorded_as_the_server_saw_it(
    server: MockServer, request_set: Path
) -> None:
    server.reset(seed=3)
    run = run_client("anthropic_sdk", config(server, request_set))
    log = messages(server)
    assert len(run.attempts) == len(log)
    assert run.rejections == sum(1 for e in log if not e["accepted"]) > 0
    assert run.completed == sum(1 for e in log if e["accepted"])
    assert_buckets_held(log)


def test_the_bench_runs_an_anthropic_scenario_end_to_end(tmp_path: Path) -> None:
    from bench.records.results import load_runs, load_theory

    result = run_cli(
        "bench", "--api", "anthropic", "--rpm", str(RPM), "--itpm", "100000", "-n", "8",
        "--clients", "budget_window,header_adaptive", "--runs", "1", "--no-ratelimit-headers",
        "--time-scale", str(SCALE), "--out", str(tmp_path), "--name", "a", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "three-bucket bound" in result.stdout
    runs = {r.client: r for r in load_runs(tmp_path / "a")}
    assert runs["budget_window"].rejections == 0  # from the server's log
    # Told nothing and no headers: its 429s' bodies teach it, in the first minute.
    learner = runs["header_adaptive"]
    assert learner.completed == 8
    refused = [a.sent / SCALE for a in learner.attempts if a.outcome == "rate_limited"]
    assert refused
    assert max(refused) < 60
    theory = load_theory(tmp_path / "a")
    assert theory is not None
    expected = theory.for_client("budget_window")
    assert expected is not None
    assert expected.predicted_rejections == 0
    for figure in ("windows.png", "progress.png", "report.md"):
        assert (tmp_path / "a" / figure).is_file()
