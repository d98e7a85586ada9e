"""The LLM endpoint's clients against a real server process at a compressed time
scale, judged from the server's log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.endpoints.openai.bound import Buckets, bucket_bound, plan_requests
from bench.records.requests_file import make_requests, parse_distribution, write_requests
from bench.theory.latest_finish import LLMLatency
from clients import ClientConfig, run_client
from clients.infra.attempts import Reply
from mock_server.processes.server import MockServer
from tests.helpers import assert_one_line_error, run_cli

# -- against the real server ------------------------------------------------------------

SCALE = 0.05  # a minute lasts 3 s
RPM, TPM, N = 4, 100_000, 10  # requests bind: windows at 0, 60, 120 s


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    args = ("--rpm", str(RPM), "--tpm", str(TPM), "--ttft", "0.5-1.5", "--token-time", "0.01")
    with MockServer(seed=3, time_scale=SCALE, extra_args=args) as started:
        yield started


@pytest.fixture(scope="module")
def request_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("set") / "requests.jsonl"
    fixed = parse_distribution("fixed:20", "--prompt-tokens")
    write_requests(path, make_requests(N, 0, fixed, parse_distribution("fixed:20", "x")))
    return path


def completions(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/chat/completions"]


def config(server: MockServer, request_set: Path) -> ClientConfig:
    return ClientConfig(
        url=server.chat_url,
        n=N,
        time_scale=SCALE,
        rpm=RPM,
        tpm=TPM,
        requests_file=str(request_set),
        deadline=400,
    )


def test_openai_sdk_records_every_attempt_the_server_saw(
    server: MockServer, request_set: Path
) -> None:
    server.reset(seed=3)
    run = run_client("openai_sdk", config(server, request_set))
    log = completions(server)
    assert len(run.attempts) == len(log)
    assert run.rejections == sum(1 for e in log if not e["accepted"])
    # 10 at once against 4 a minute, three attempts each: 4 + 4 + 2 get through,
    # spaced by retry-after, so nothing is lost.
    assert run.completed == N
    assert run.rejections == 6 + 2


def test_the_bench_runs_the_openai_clients_only(request_set: Path) -> None:
    result = run_cli(
        "bench", "--api", "openai", "--strategy", "fixed-window", "--rpm", "4", "--tpm", "100000",
        "--requests", str(request_set), "--simulate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "budget_window" in result.stdout
    assert "thread_pool" not in result.stdout
    assert "Best possible under both limits" in result.stdout
    assert "3 windows, requests bind" in result.stdout
    bad = run_cli("bench", "--rpm", "4", "--simulate")
    assert_one_line_error(bad, "--rpm", "--api openai")
    wrong = run_cli("bench", "--api", "openai", "--clients", "token_bucket", "--simulate")
    assert_one_line_error(wrong, "token_bucket", "budget_window")


def test_a_429s_message_reaches_the_cookbook_processor(
    server: MockServer, request_set: Path
) -> None:
    """The processor pauses on what a 429's message says: the transport keeps it."""
    import asyncio
    import json

    import aiohttp

    from clients.limiters.cookbook_bucket import RATE_LIMIT, CookbookBudget
    from clients.transports import openai_send

    server.reset(seed=3)
    body = json.loads(request_set.read_text().splitlines()[0])
    body.pop("metadata")

    async def sends() -> list[Reply]:
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/v1/chat/completions"
            return list(
                await asyncio.gather(
                    *(openai_send.send(session, url, body) for _ in range(RPM + 1))
                )
            )

    replies = asyncio.run(sends())
    refused = [r for r in replies if r.status == 429]
    assert len(refused) == 1
    assert RATE_LIMIT in refused[0].detail.lower()
    assert all(r.detail == "" for r in replies if r.status == 200)
    shared = CookbookBudget(RPM, TPM, window=60, cooldown=15, clock=lambda: 0.0)
    shared.for_request(20).observe(refused[0])
    assert shared.errors == [0.0]


def test_header_adaptive_is_refused_only_in_its_first_window(
    server: MockServer, request_set: Path
) -> None:
    server.reset(seed=3)
    told_nothing = replace(config(server, request_set), rpm=None, tpm=None)
    run = run_client("header_adaptive", told_nothing)
    assert run.completed == N
    window = 60 * SCALE
    refused = [e["arrival"] - run.started for e in completions(server) if not e["accepted"]]
    assert len(refused) == N - RPM  # the first burst, cut down to the minute's budget
    assert max(refused) < window


def test_the_bench_runs_an_openai_scenario_end_to_end(request_set: Path, tmp_path: Path) -> None:
    from bench.records.results import load_runs, load_theory

    result = run_cli(
        "bench", "--api", "openai", "--rpm", str(RPM), "--tpm", str(TPM),
        "--requests", str(request_set), "--clients", "budget_window", "--runs", "1",
        "--time-scale", str(SCALE), "--out", str(tmp_path), "--name", "o",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "two-limit bound" in result.stdout
    assert "× bound" in result.stderr
    (run,) = load_runs(tmp_path / "o")
    assert run.scenario.api == "openai"
    assert run.ok
    assert run.completed == N
    assert run.rejections == 0  # from the server's log
    # The endpoint's default, the token bucket: budget_window keeps a copy of both buckets.
    assert run.scenario.limit.strategy == "token-bucket"
    bound = bucket_bound(
        plan_requests(make_requests(N, 0, *[parse_distribution("fixed:20", "x")] * 2)),
        Buckets.per_minute(RPM, TPM),
        LLMLatency(),  # the bench's own server: the default latency model
    )
    assert bound.binding == "requests"
    # Never faster than the bound; late by the margin per window and a busy machine.
    assert bound.mean - 2.0 < run.seconds < bound.mean + 8.0, (run.seconds, bound.mean)
    assert (tmp_path / "o" / "requests.jsonl").read_text() == request_set.read_text()
    # Theory ran the client's own limiter against a model of the two limits.
    theory = load_theory(tmp_path / "o")
    assert theory is not None
    expected = theory.for_client("budget_window")
    assert expected is not None
    assert expected.predicted_mean is not None
    assert expected.predicted_rejections == 0
    assert abs(expected.predicted_mean - run.seconds) < 8.0, (expected.predicted_mean, run.seconds)
