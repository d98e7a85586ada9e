"""The leaderboard's library clients against a real server process at a compressed
time scale, each judged from the server's log by what its library promises: the
limit it was told held (at most L arrivals in any rolling window), or the break
the leaderboard reports (a limit it cannot be told, sends made blind)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.records.requests_file import make_requests, parse_distribution, write_requests
from clients import ClientConfig, run_client
from mock_server.processes.server import MockServer

SCALE = 1 / 60  # a minute lasts one wall second, a whole number, as limits needs
MINUTE = 60 * SCALE
SLACK = 0.05  # wall seconds between a client's send and the server's arrival stamp


def most_in_window(times: list[float], window: float, weights: list[int] | None = None) -> int:
    """The most weight (arrivals, or their tokens) in any `window` seconds of `times`."""
    weights = weights or [1] * len(times)
    pairs = sorted(zip(times, weights, strict=True))
    most = 0
    for i, (start, _) in enumerate(pairs):
        most = max(most, sum(w for t, w in pairs[i:] if t < start + window))
    return most


def completions(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/chat/completions"]


def chats(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint", "/chat") == "/chat"]


# -- the OpenAI endpoint: tokens bind ---------------------------------------------------

RPM, TPM, N, CHARGE = 20, 160, 8, 40  # 4 requests' tokens a minute: two windows


@pytest.fixture(scope="module")
def openai_server() -> Iterator[MockServer]:
    args = ("--rpm", str(RPM), "--tpm", str(TPM), "--ttft", "0.1-0.2", "--token-time", "0.001")
    with MockServer(strategy="token-bucket", seed=3, time_scale=SCALE, extra_args=args) as started:
        yield started


@pytest.fixture(scope="module")
def request_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("set") / "requests.jsonl"
    fixed = parse_distribution("fixed:20", "--prompt-tokens")
    write_requests(path, make_requests(N, 0, fixed, parse_distribution("fixed:20", "x")))
    return path


def openai_config(server: MockServer, request_set: Path, **knobs: Any) -> ClientConfig:
    return ClientConfig(
        url=server.chat_url,
        n=N,
        time_scale=SCALE,
        rpm=RPM,
        tpm=TPM,
        requests_file=str(request_set),
        deadline=200,
        **knobs,
    )


def tokens_in_any_minute(log: list[dict[str, Any]]) -> int:
    accepted = [e for e in log if e["accepted"]]
    return most_in_window(
        [e["arrival"] for e in accepted], MINUTE - SLACK, [CHARGE] * len(accepted)
    )


@pytest.mark.parametrize("client", ["lib_pyrate", "lib_limits"])
def test_a_sliding_window_library_keeps_both_limits(
    client: str, openai_server: MockServer, request_set: Path
) -> None:
    openai_server.reset(seed=3)
    run = run_client(client, openai_config(openai_server, request_set))
    log = completions(openai_server)
    assert run.completed == N
    # Told both limits, the library's log admits at most a minute's tokens in any
    # rolling minute (as the server saw the sends, less the slack of their travel).
    assert tokens_in_any_minute(log) <= TPM
    # Two windows' worth: the second half waited for the first minute to pass.
    first = min(e["arrival"] for e in log)
    assert max(e["arrival"] for e in log) - first >= MINUTE - SLACK
    # Neither keeps a margin for the time a send takes to be decided (pyrate's 50 ms
    # buffer, limits none): a refusal can only be a send made as the window
    # reopened, decided a little earlier after its send than the hit it replaces.
    refused = [e["arrival"] - first for e in log if not e["accepted"]]
    assert all(abs(t - MINUTE) < 4 * SLACK for t in refused), refused
    assert run.rejections == len(refused)


def test_langchain_cannot_be_told_tokens_so_the_server_refuses_them(
    openai_server: MockServer, request_set: Path
) -> None:
    openai_server.reset(seed=3)
    run = run_client("lib_langchain", openai_config(openai_server, request_set, attempts=2))
    log = completions(openai_server)
    # Its promise is requests: one every 60/RPM s (less the jitter of their travel).
    arrivals = sorted(e["arrival"] for e in log)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.5 * MINUTE / RPM
    # Tokens it cannot be told: 8 requests of 40 tokens inside half a minute against
    # 160 a minute, so the server refused what the tokens did not cover.
    assert sum(1 for e in log if not e["accepted"]) > 0
    assert run.rejections == sum(1 for e in log if not e["accepted"])


# -- /chat ------------------------------------------------------------------------------

CHAT_SCALE = 0.1
L, T = 5, 10.0  # 5 per 10 scenario seconds: a 1 s wall window at time scale 0.1


@pytest.fixture(scope="module")
def chat_server() -> Iterator[MockServer]:
    with MockServer(
        rate=f"{L}/{T:g}seconds", latency="1-2", seed=5, time_scale=CHAT_SCALE
    ) as started:
        yield started


def chat_config(server: MockServer, n: int) -> ClientConfig:
    return ClientConfig(
        url=server.chat_url, n=n, rate=L / T, capacity=L, time_scale=CHAT_SCALE, deadline=300
    )


@pytest.mark.parametrize("client", ["lib_pyrate_chat", "lib_limits_chat", "lib_langchain_chat"])
def test_a_chat_library_limiter_keeps_its_limit(client: str, chat_server: MockServer) -> None:
    chat_server.reset(seed=5)
    run = run_client(client, chat_config(chat_server, 2 * L))
    log = chats(chat_server)
    assert run.completed == 2 * L
    window = T * CHAT_SCALE
    # The library admits at most L in any rolling T (LangChain: one every T/L).
    assert most_in_window([e["arrival"] for e in log], window - SLACK) <= L


def test_smartratelimit_sends_blind_then_paces_what_it_learned(chat_server: MockServer) -> None:
    chat_server.reset(seed=5)
    run = run_client("lib_smartratelimit_chat", chat_config(chat_server, 2 * L))
    refused = [a for a in run.attempts if a.outcome == "rate_limited"]
    assert run.completed == 2 * L
    # Told nothing, the whole batch goes at once: the limit's L are answered, the
    # rest refused; from the headers on, its own retries are never refused again.
    assert len(refused) == L
    assert all(a.attempt == 0 for a in refused)
    assert len(chats(chat_server)) == len(run.attempts)


def test_litellm_holds_requests_over_the_rpm_until_the_clock_minute_turns(
    openai_server: MockServer, request_set: Path
) -> None:
    # LiteLLM counts the wall clock's minutes (`%H-%M`): a batch that straddled one
    # would get a fresh minute's RPM at the turn. Start clear of it.
    into_minute = time.time() % 60
    if into_minute > 52:
        time.sleep(60.5 - into_minute)
    openai_server.reset(seed=3)
    held = 3  # 120 tokens, inside the server's 160
    config = replace(openai_config(openai_server, request_set), rpm=held, deadline=2.0 / SCALE)
    run = run_client("lib_litellm", config)
    log = completions(openai_server)
    # Told 3 RPM, it sent 3 and held the other 5 for the next minute (past the deadline).
    assert len(log) == held
    assert all(e["accepted"] for e in log)
    assert run.completed == held
