"""The OpenAI-compatible endpoint, end to end: the official `openai` SDK
against a real server process, and the server's own log under a burst.

Servers are started once per module, all at once (each takes seconds to
import its stack on a busy machine), and reset between tests.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

from mock_server import llm_latency, tokens
from mock_server.endpoints.openai.errors import format_duration, retry_after_ms
from mock_server.processes.server import MockServer
from mock_server.vocabulary import MINUTE, WINDOW_STRATEGIES, Latency
from tests.helpers import BAD_OPENAI_FLAGS, assert_one_line_error, post_all, run_cli, running

MODEL = "gpt-4o-mini"
# How far a decision may sit from its stamps (both taken in one step).
TOL = 0.003
# How far two readings of one window's end may differ: with Redis the server
# reads a time to live, whole milliseconds, a round trip away (milliseconds on
# a busy machine; the windows themselves are hundreds of milliseconds apart).
STAMP_JITTER = 0.02

# The SDK server: a minute lasts 1.8 s.
SDK_SCALE = 0.03
SDK_RPM, SDK_TPM = 20, 2_000
SDK_TTFT = Latency(1, 2)  # 1 or 2 s (whole seconds draw randint): 30 or 60 ms here
SDK_TOKEN_TIME = 0.01  # 0.3 ms a token

# The burst servers: a minute lasts 0.3 s; answers are immediate.
BURST_SCALE = 0.005
BURST_RPM, BURST_TPM = 20, 2_000

# --quantize: 600 RPM / 60,000 TPM in slices of 1 s (100 ms at this scale).
QUANTIZE_SCALE = 0.1


def openai_args(rpm: int, tpm: int, *extra: str) -> tuple[str, ...]:
    return ("--rpm", str(rpm), "--tpm", str(tpm), *extra)


def burst_server(strategy: str, *extra: str) -> MockServer:
    return MockServer(
        strategy=strategy,
        seed=1,
        time_scale=BURST_SCALE,
        extra_args=openai_args(BURST_RPM, BURST_TPM, "--ttft", "0", "--token-time", "0", *extra),
    )


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, MockServer]]:
    with running(
        {
            "sdk": MockServer(
                seed=1,
                time_scale=SDK_SCALE,
                extra_args=openai_args(
                    SDK_RPM,
                    SDK_TPM,
                    "--ttft",
                    str(SDK_TTFT),
                    "--token-time",
                    str(SDK_TOKEN_TIME),
                ),
            ),
            **{strategy: burst_server(strategy) for strategy in WINDOW_STRATEGIES},
            "quantized": MockServer(
                seed=1,
                time_scale=QUANTIZE_SCALE,
                extra_args=openai_args(
                    600, 60_000, "--quantize", "1s", "--no-ratelimit-headers", "--ttft", "0"
                ),
            ),
        }
    ) as started:
        yield started


@pytest.fixture
def sdk_server(servers: dict[str, MockServer]) -> MockServer:
    server = servers["sdk"]
    server.reset()
    return server


def sdk(server: MockServer, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.url}/v1", api_key="sk-test", max_retries=max_retries, timeout=30
    )


def completions_log(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/chat/completions"]


def body(max_tokens: int, content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        **extra,
    }


# -- the SDK against the real server ---------------------------------------------


def test_sdk_gets_a_completion_and_a_stream_with_usage(sdk_server: MockServer) -> None:
    client = sdk(sdk_server)
    messages: list[Any] = [{"role": "user", "content": "Say hello in three words."}]
    done = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12)
    assert done.object == "chat.completion"
    assert done.model == MODEL
    assert done.id.startswith("chatcmpl-")
    [choice] = done.choices
    assert choice.message.role == "assistant"
    assert done.usage is not None
    used = done.usage.completion_tokens
    assert 1 <= used <= 12
    assert choice.message.content == llm_latency.answer_text(used)
    assert choice.finish_reason == ("length" if used == 12 else "stop")
    prompt = tokens.prompt_tokens(messages)
    assert done.usage.prompt_tokens == prompt
    assert done.usage.total_tokens == prompt + used

    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=30,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    *content_chunks, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert all(c.usage is None for c in content_chunks)
    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    streamed = usage_chunk.usage.completion_tokens
    assert text == llm_latency.answer_text(streamed)
    assert content_chunks[0].choices[0].delta.role == "assistant"
    assert content_chunks[-1].choices[0].finish_reason in {"stop", "length"}

    plain, stream = completions_log(sdk_server)
    for entry, max_tokens, out in ((plain, 12, used), (stream, 30, streamed)):
        assert (entry["accepted"], entry["status"], entry["refused_by"]) == (True, 200, None)
        assert entry["tokens_charged"] == entry["tokens_requested"] == prompt + max_tokens
        assert entry["completion_tokens"] == out
        assert entry["tokens_used"] == prompt + out
        # It answered no sooner than its drawn latency (ttft, then a time per token).
        assert entry["drawn"] == pytest.approx(entry["ttft"] + (out - 1) * SDK_TOKEN_TIME)
        assert entry["left"] - entry["decided"] >= entry["latency"] - 0.002
    assert stream["stream"] is True
    assert stream["first_token"] - stream["decided"] >= stream["ttft"] * SDK_SCALE - 0.002


def test_rate_limit_error_carries_openai_headers_and_body(sdk_server: MockServer) -> None:
    url = f"{sdk_server.url}/v1/chat/completions"
    assert post_all(url, [body(5)] * SDK_RPM) == [200] * SDK_RPM
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(sdk_server).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=5
        )
    error = caught.value
    assert error.status_code == 429
    headers = error.response.headers
    wait_ms = int(headers["retry-after-ms"])
    assert 0 < wait_ms <= MINUTE * SDK_SCALE * 1000 + 1
    assert headers["retry-after"] == str(math.ceil(wait_ms / 1000))
    assert headers["x-ratelimit-limit-requests"] == str(SDK_RPM)
    assert headers["x-ratelimit-limit-tokens"] == str(SDK_TPM)
    assert headers["x-ratelimit-remaining-requests"] == "0"
    charge = tokens.charge(tokens.prompt_tokens([{"role": "user", "content": "hello"}]), 5)
    # The refused request took no tokens: only the 20 admitted did.
    assert headers["x-ratelimit-remaining-tokens"] == str(SDK_TPM - SDK_RPM * charge)
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        assert re.fullmatch(r"\d+ms|\d+(\.\d+)?s", headers[name]), headers[name]
    assert error.body == {
        "message": f"Rate limit reached for {MODEL} in organization org-ratebench on requests "
        f"per min (RPM): Limit {SDK_RPM}, Used {SDK_RPM}, Requested 1. Please try again in "
        f"{format_duration(wait_ms / 1000)}. Visit https://platform.openai.com/account/"
        "rate-limits to learn more.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    refused = completions_log(sdk_server)[-1]
    assert refused["refused_by"] == "requests"
    assert refused["tokens_charged"] == 0
    assert retry_after_ms(refused["retry_after"]) == wait_ms


def test_a_request_refused_for_tokens_costs_no_request(sdk_server: MockServer) -> None:
    client = sdk(sdk_server)
    hello: list[Any] = [{"role": "user", "content": "hello"}]
    prompt = tokens.prompt_tokens(hello)
    client.chat.completions.create(model=MODEL, messages=hello, max_tokens=1_500)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=hello, max_tokens=600)
    error = caught.value
    assert isinstance(error.body, dict)
    assert error.body["type"] == "tokens"
    assert error.body["message"].startswith(
        f"Rate limit reached for {MODEL} in organization org-ratebench on tokens per min (TPM): "
        f"Limit {SDK_TPM}, Used {prompt + 1_500}, Requested {prompt + 600}. Please try again in "
    )
    assert error.response.headers["x-ratelimit-remaining-requests"] == str(SDK_RPM - 1)
    # The request budget is intact: a small request still gets in.
    client.chat.completions.create(model=MODEL, messages=hello, max_tokens=5)
    log = completions_log(sdk_server)
    assert [e["refused_by"] for e in log] == [None, "tokens", None]
    assert [e["tokens_charged"] for e in log] == [prompt + 1_500, 0, prompt + 5]


def test_sdk_retry_waits_what_retry_after_ms_said(sdk_server: MockServer) -> None:
    url = f"{sdk_server.url}/v1/chat/completions"
    assert post_all(url, [body(5)] * SDK_RPM) == [200] * SDK_RPM
    done = sdk(sdk_server, max_retries=2).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=5
    )
    assert done.choices[0].message.content
    *_, refused, retried = completions_log(sdk_server)
    assert refused["refused_by"] == "requests"
    assert retried["accepted"]
    told = retry_after_ms(refused["retry_after"]) / 1000
    waited = retried["arrival"] - refused["left"]
    # The SDK slept exactly what retry-after-ms said (no backoff of its own):
    # the gap is that plus a client's round trip on a busy machine.
    assert told - 0.002 <= waited <= told + 0.3, (told, waited)


def test_a_request_too_large_for_the_tpm_is_refused_for_good(sdk_server: MockServer) -> None:
    hello: list[Any] = [{"role": "user", "content": "hello"}]
    prompt = tokens.prompt_tokens(hello)
    with pytest.raises(openai.RateLimitError) as caught:
        # max_retries: the SDK obeys x-should-retry: false and does not retry.
        sdk(sdk_server, max_retries=2).chat.completions.create(
            model=MODEL, messages=hello, max_tokens=3_000
        )
    error = caught.value
    assert error.body == {
        "message": f"Request too large for {MODEL} in organization org-ratebench on tokens per "
        f"min (TPM): Limit {SDK_TPM}, Requested {prompt + 3_000}. The input or output tokens "
        "must be reduced in order to run successfully. Visit https://platform.openai.com/"
        "account/rate-limits to learn more.",
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert "retry-after-ms" not in error.response.headers
    assert error.response.headers["x-ratelimit-remaining-tokens"] == str(SDK_TPM)
    [entry] = completions_log(sdk_server)
    assert entry["refused_by"] == "too-large"
    assert entry["tokens_charged"] == 0


HI = '"messages": [{"role": "user", "content": "hi"}]'


def chat(fields: str) -> bytes:
    """A body with model "m", the given JSON fields and, unless they say, one message."""
    messages = "" if '"messages"' in fields else f", {HI}"
    return ('{"model": "m"' + messages + (f", {fields}" if fields else "") + "}").encode()


@pytest.mark.parametrize(
    ("payload", "param", "code"),
    [
        (b"{not json", None, None),
        (b"\xff\xfe\x00", None, None),
        (b"", None, None),
        (b"[1, 2]", None, "invalid_type"),
        (("{" + HI + "}").encode(), "model", "missing_required_parameter"),
        (chat('"messages": []'), "messages", "empty_array"),
        (chat('"messages": [{"role": "robot"}]'), "messages[0].role", "invalid_value"),
        (
            chat('"messages": [{"role": "user", "content": 7}]'),
            "messages[0].content",
            "invalid_type",
        ),
        (chat('"max_tokens": "9"'), "max_tokens", "invalid_type"),
        (chat('"max_tokens": 0'), "max_tokens", "integer_below_min_value"),
        (chat('"n": 1000'), "n", "integer_above_max_value"),
        (chat('"stream_options": {"include_usage": true}'), "stream_options", "invalid_value"),
    ],
)
def test_malformed_bodies_get_a_400_in_openai_shape(
    servers: dict[str, MockServer], payload: bytes, param: str | None, code: str | None
) -> None:
    server = servers["sdk"]
    response = requests.post(
        f"{server.url}/v1/chat/completions",
        data=payload,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert error["message"]
    assert response.headers["x-ratelimit-limit-requests"] == str(SDK_RPM)
    entry = completions_log(server)[-1]
    assert (entry["status"], entry["accepted"], entry["refused_by"]) == (400, False, None)
    assert entry["error"] == error["message"]


def test_unknown_fields_are_ignored_and_models_are_listed(sdk_server: MockServer) -> None:
    response = requests.post(
        f"{sdk_server.url}/v1/chat/completions",
        json=body(3, temperature=0.2, tools=[], response_format={"type": "text"}, n=2),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert [c["index"] for c in response.json()["choices"]] == [0, 1]
    [entry] = completions_log(sdk_server)
    assert entry["tokens_charged"] == entry["prompt_tokens"] + 2 * 3
    assert [m.id for m in sdk(sdk_server).models.list()] == ["ratebench-mock"]


def test_the_kth_accepted_request_gets_draw_k_of_the_seed(sdk_server: MockServer) -> None:
    client = sdk(sdk_server)

    def three() -> list[tuple[float, int]]:
        for _ in range(3):
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=40
            )
        return [(e["ttft"], e["completion_tokens"]) for e in completions_log(sdk_server)]

    sdk_server.reset(seed=5)
    first = three()
    expected = [llm_latency.draw_for(5, k, SDK_TTFT, SDK_TOKEN_TIME, 40) for k in (1, 2, 3)]
    assert first == [(d.ttft, d.completion_tokens[0]) for d in expected]
    sdk_server.reset(seed=5)
    assert three() == first
    sdk_server.reset(seed=6)
    assert three() != first


def test_every_line_of_a_request_file_is_accepted(sdk_server: MockServer, tmp_path: Path) -> None:
    out = tmp_path / "requests.jsonl"
    # Small requests: all twelve fit the minute's 2,000 tokens.
    result = run_cli(
        "bench", "requests", "--n", "12", "--seed", "3", "--out", str(out),
        "--prompt-tokens", "lognormal:40,0.5", "--max-tokens", "uniform:10-50",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote 12 requests" in result.stdout
    lines = out.read_text().splitlines()
    assert len(lines) == 12
    for line in lines:
        response = requests.post(
            f"{sdk_server.url}/v1/chat/completions",
            data=line,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    bodies = [json.loads(line) for line in lines]
    log = completions_log(sdk_server)
    assert [e["prompt_tokens"] for e in log] == [b["metadata"]["prompt_tokens"] for b in bodies]
    assert [e["tokens_charged"] for e in log] == [b["metadata"]["charge"] for b in bodies]


# -- the limits under a burst, from the server's log --------------------------------


def burst_bodies(n: int, seed: int) -> list[dict[str, Any]]:
    """Half small requests (charge 21), half large ones (charge 316): the token
    limit binds on the large, the request limit on the small."""
    rng = random.Random(seed)
    return [body(rng.choice([5, 300]), content=f"request {i:03d}") for i in range(n)]


def windows_by_stamp(entries: list[dict[str, Any]], stamp: str) -> list[list[dict[str, Any]]]:
    """Accepted entries grouped by the window they were counted in, which the
    server names by when it closes (read around the hit, see
    mock_server.limits).

    Windows of one limit never overlap, so their ends are at least a window
    apart, while two readings of one end differ by STAMP_JITTER at most. An
    entry whose window closed during its own hit is named by none (None):
    the server cannot tell which it was, so it is left out; it must be rare.
    """
    window = MINUTE * BURST_SCALE
    named = [e for e in entries if e[stamp] is not None]
    assert len(entries) - len(named) <= max(1, len(entries) // 50), "too many unnamed windows"
    groups: list[list[dict[str, Any]]] = []
    for entry in sorted(named, key=lambda e: e[stamp]):
        if groups and entry[stamp] - groups[-1][-1][stamp] < window / 2:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    ends = [[e[stamp] for e in members] for members in groups]
    for stamps in ends:
        assert max(stamps) - min(stamps) <= STAMP_JITTER, stamps
    for earlier, later in itertools.pairwise(ends):
        assert min(later) - max(earlier) >= window - STAMP_JITTER, "windows of one limit overlap"
    for members in groups:
        end = min(e[stamp] for e in members)
        for e in members:  # each was decided while its window was open
            assert end - window - STAMP_JITTER <= e["wall_after"]
            assert e["wall"] <= end + STAMP_JITTER
    return groups


def check_windows(strategy: str, log: list[dict[str, Any]]) -> int:
    """No window admitted more than the RPM or the TPM; returns the number of
    windows that admitted something."""
    accepted = [e for e in log if e["accepted"]]
    for e in log:
        assert e["status"] == (200 if e["accepted"] else 429)
        assert e["tokens_charged"] == (e["tokens_requested"] if e["accepted"] else 0)
        assert e["refused_by"] in ({None} if e["accepted"] else {"requests", "tokens"})
    if strategy == "moving-window":
        # Any accepted requests decided within one window of each other.
        window = MINUTE * BURST_SCALE
        hits = sorted(accepted, key=lambda e: e["wall"])
        for i, first in enumerate(hits):
            span = [e for e in hits[i:] if e["wall_after"] - first["wall"] < window - TOL]
            assert len(span) <= BURST_RPM, span
            assert sum(e["tokens_charged"] for e in span) <= BURST_TPM, span
        return len({round(e["wall"] / window) for e in hits})
    # Fixed window and sliding-window counter: count per window of each limit
    # (for the counter, the current window's count alone is at most the limit).
    for members in windows_by_stamp(accepted, "requests_window_reset"):
        assert len(members) <= BURST_RPM
    token_windows = windows_by_stamp(accepted, "tokens_window_reset")
    for members in token_windows:
        assert sum(e["tokens_charged"] for e in members) <= BURST_TPM
    return len(token_windows)


def burst(server: MockServer, strategy: str) -> list[dict[str, Any]]:
    """200 requests at once; the server's log of them, checked."""
    server.reset()
    statuses = post_all(f"{server.url}/v1/chat/completions", burst_bodies(200, seed=1))
    log = completions_log(server)
    assert len(log) == 200
    assert sorted(statuses) == sorted(e["status"] for e in log)
    assert check_windows(strategy, log) >= 1
    return log


def burst_and_spread(server: MockServer, strategy: str) -> None:
    burst_refusals = {e["refused_by"] for e in burst(server, strategy)}

    # The same 200 spread over four windows, so that windows open and close
    # while requests keep arriving.
    url = f"{server.url}/v1/chat/completions"
    server.reset()
    rng = random.Random(2)
    offsets = [rng.uniform(0, 4 * MINUTE * BURST_SCALE) for _ in range(200)]
    post_all(url, burst_bodies(200, seed=2), offsets)
    log = completions_log(server)
    assert len(log) == 200
    assert check_windows(strategy, log) >= 3
    assert sum(e["accepted"] for e in log) >= 30
    assert "tokens" in burst_refusals | {e["refused_by"] for e in log}

    # Whether the request limit refused any of the mixed bodies above depends on
    # the order they arrived in (a window meets the TPM after 7 large ones, before
    # 20 requests, unless few large ones came first): 60 small ones at once,
    # charging 21 x 60 = 1,260 of the 2,000 tokens, are refused by the request
    # limit only, and by it for sure unless a loaded machine spreads their
    # arrivals over three windows.
    server.reset()
    post_all(url, [body(5, content=f"small {i:02d}") for i in range(3 * BURST_RPM)])
    log = completions_log(server)
    assert check_windows(strategy, log) >= 1
    assert {e["refused_by"] for e in log if not e["accepted"]} == {"requests"}


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_no_window_admits_more_than_the_rpm_or_the_tpm(
    servers: dict[str, MockServer], strategy: str
) -> None:
    burst_and_spread(servers[strategy], strategy)


def test_four_workers_on_redis_admit_no_more_than_the_rpm_or_the_tpm(redis_url: str) -> None:
    # One Redis database per server: each keeps its log and counters apart.
    base = redis_url.rsplit("/", 1)[0]
    with running(
        {
            s: burst_server(s, "--workers", "4", "--storage", f"{base}/{db}")
            for db, s in enumerate(WINDOW_STRATEGIES, start=1)
        }
    ) as started:
        for strategy, server in started.items():
            assert len({e["worker"] for e in burst(server, strategy)}) >= 2


def test_quantize_enforces_the_minute_per_slice_and_headers_can_be_left_out(
    servers: dict[str, MockServer],
) -> None:
    server = servers["quantized"]
    server.reset()
    url = f"{server.url}/v1/chat/completions"
    post_all(url, [body(5)] * 40)
    log = completions_log(server)
    slice_seconds = 1.0 * QUANTIZE_SCALE
    ends = sorted({round(e["requests_window_reset"] / slice_seconds) for e in log if e["accepted"]})
    for end in ends:
        assert sum(
            1
            for e in log
            if e["accepted"] and round(e["requests_window_reset"] / slice_seconds) == end
        ) <= 10  # fmt: skip
    assert any(not e["accepted"] for e in log)

    # About 2,000 tokens fit the minute's 60,000 but not a slice's 1,000.
    response = requests.post(url, json=body(2_000), timeout=10)
    assert response.status_code == 429
    message = response.json()["error"]["message"]
    assert message.startswith(f"Request too large for {MODEL} in organization org-ratebench")
    charge = tokens.charge(tokens.prompt_tokens(body(2_000)["messages"]), 2_000)
    assert f"Limit 60000, Requested {charge}." in message
    assert message.endswith("This server enforces it as 1000 tokens per 1s.")
    ok = requests.post(url, json=body(5), timeout=10)
    for answer in (response, ok):
        assert not any(h.startswith(("x-ratelimit", "retry-after")) for h in answer.headers)


@pytest.mark.parametrize(
    ("args", "fragment"), [BAD_OPENAI_FLAGS[0], BAD_OPENAI_FLAGS[4], (["--rpm", "x"], "--rpm")]
)
def test_bad_openai_flags_are_one_clear_line(args: list[str], fragment: str) -> None:
    # The same errors through the real command: one line, exit status 2.
    assert_one_line_error(run_cli("mock_server", "--port", "0", *args), fragment)


def test_help_names_the_openai_flags() -> None:
    result = run_cli("mock_server", "--help")
    assert result.returncode == 0
    for flag in (
        "--rpm",
        "--tpm",
        "--quantize",
        "--ttft",
        "--token-time",
        "--no-ratelimit-headers",
        "--max-output-tokens",
    ):
        assert flag in result.stdout


def test_the_sdk_needs_only_openai_base_url(
    sdk_server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{sdk_server.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    done = openai.OpenAI().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    [entry] = completions_log(sdk_server)
    assert done.usage is not None
    assert done.usage.total_tokens == entry["tokens_used"]
