"""The LLM endpoint's clients: the budget log in fake time, and the clients against a
real server process at a compressed time scale, judged from the server's log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.endpoints.openai.bound import LLMLatency, Windows, plan_requests, two_limit_bound
from bench.records.requests_file import make_requests, parse_distribution, write_requests
from clients import ClientConfig, run_client
from clients.infra.attempts import Reply
from clients.infra.steps import Sleep, Steps
from clients.limiters.budget_window import BudgetLog, BudgetWindowLimiter
from mock_server.process import MockServer
from tests.helpers import assert_one_line_error, run_cli

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
    bound = two_limit_bound(plan_requests(_bodies(charges)), limits, LLMLatency(1, 1, 0.0))
    assert bound.windows == 3


def _bodies(charges: list[int]) -> list[dict[str, Any]]:
    # A prompt of 7 tokens (the framing of one empty user message) and the rest as max_tokens.
    return [{"messages": [{"role": "user", "content": ""}], "max_tokens": c - 7} for c in charges]


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
        "bench", "--api", "openai", "--rpm", "4", "--tpm", "100000",
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
    from clients.transports.openai_send import Learned, OpenAIReply, learn

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
    assert learned == Learned(limit_requests=2, wait=9.5, refused_by="requests")
    views[2].observe(OpenAIReply(429, "rate_limited", reopens_in=learned.wait, learned=learned))
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
    bound = two_limit_bound(
        plan_requests(make_requests(N, 0, *[parse_distribution("fixed:20", "x")] * 2)),
        Windows.per_minute(RPM, TPM),
        LLMLatency(),  # the bench's own server: the default latency model
    )
    assert bound.windows == 3
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
