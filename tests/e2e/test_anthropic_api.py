"""Anthropic's Messages API through the official `anthropic` SDK against real
server processes: a message and a stream with usage, count_tokens equal to
the charge, RateLimitError with Anthropic's headers and body, the SDK's
retries (after retry-after; a 529 with its backoff; a spend-limit 429 that
fails every time), a stream that ends with an error event, the shared
faults in OpenAI's words, and, from the server's log under bursts (200
requests at once, then bursts each bucket must refuse), no bucket admitting
more than its capacity plus its refill, in memory and with four workers on
Redis.

Every server starts at once with the module; answers are immediate.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
import requests

from mock_server.endpoints.anthropic.errors import rounded_thousand
from mock_server.processes.server import MockServer
from mock_server.vocabulary import MINUTE
from tests.helpers import assert_one_line_error, post_all, run_cli, running

MODEL = "claude-sonnet-4-5"
IMMEDIATE = ("--ttft", "0", "--token-time", "0")
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
HI: list[Any] = [{"role": "user", "content": "hi"}]

# The SDK server: a minute lasts 1.2 s; 2 requests a minute, refilled one per 0.6 s.
SDK_SCALE = 0.02
SDK_ARGS = ("--rpm", "2", "--itpm", "100000", "--otpm", "100000", *IMMEDIATE)
KEYS = ("--api-key", "sk-ant-test=team", "--max-body", "20000")

# The burst servers: a minute lasts 1.2 s, long beside a burst's admissions on
# a busy machine, so that each bucket surely runs dry.
BURST_SCALE = 0.02
RPM, ITPM, OTPM = 20, 2_000, 1_000
BURST_ARGS = ("--rpm", str(RPM), "--itpm", str(ITPM), "--otpm", str(OTPM), *IMMEDIATE)


def server(scale: float, *args: str) -> MockServer:
    return MockServer(seed=1, time_scale=scale, extra_args=args)


@pytest.fixture(scope="module")
def servers(redis_url: str) -> Iterator[dict[str, MockServer]]:
    redis_args = ("--workers", "4", "--storage", redis_url.rsplit("/", 1)[0] + "/1")
    with running(
        {
            "sdk": server(SDK_SCALE, *SDK_ARGS, *KEYS),
            "faults": server(1.0, "--overload-rate", "1", *IMMEDIATE),
            "spend": server(1.0, "--spend-limit", "1", "--stream-error-rate", "1", *IMMEDIATE),
            "max-tokens": server(BURST_SCALE, *BURST_ARGS, "--otpm-charge", "max-tokens"),
            "produced": server(BURST_SCALE, *BURST_ARGS),
            "redis": server(BURST_SCALE, *BURST_ARGS, "--otpm-charge", "max-tokens", *redis_args),
            "redis-produced": server(
                BURST_SCALE, *BURST_ARGS, "--workers", "4", "--storage", redis_url
            ),
        }
    ) as started:
        yield started


@pytest.fixture
def sdk_server(servers: dict[str, MockServer]) -> MockServer:
    found = servers["sdk"]
    found.reset()
    return found


def sdk(server: MockServer, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.url, api_key="sk-ant-test", max_retries=max_retries, timeout=30
    )


def messages_log(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/messages"]


# -- the SDK against the real server ---------------------------------------------


def test_a_message_a_stream_with_usage_and_count_tokens(
    sdk_server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pointed at the server by ANTHROPIC_BASE_URL alone.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sdk_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    client = anthropic.Anthropic(max_retries=0)
    system = "You answer in Latin."
    counted = client.messages.count_tokens(model=MODEL, system=system, messages=HI)
    done = client.messages.create(model=MODEL, max_tokens=16, system=system, messages=HI)
    with client.messages.stream(model=MODEL, max_tokens=16, messages=HI) as stream:
        text = "".join(stream.text_stream)
        streamed = stream.get_final_message()
    first, second = messages_log(sdk_server)
    assert done.type == "message"
    assert done.role == "assistant"
    assert done.usage.input_tokens == counted.input_tokens == first["input_charged"]
    assert done.usage.output_tokens == first["output_tokens"] == first["output_charged_later"]
    assert done.stop_reason in ("end_turn", "max_tokens")
    assert streamed.content[0].type == "text"
    assert text == streamed.content[0].text
    assert streamed.usage.output_tokens == second["output_tokens"] == len(text.split())
    assert second["stream"]
    assert second["status"] == 200


def test_rate_limit_error_carries_anthropic_headers_and_body(sdk_server: MockServer) -> None:
    client = sdk(sdk_server)
    for _ in range(2):
        client.messages.create(model=MODEL, max_tokens=4, messages=HI)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(model=MODEL, max_tokens=4, messages=HI)
    error = refused.value
    headers = error.response.headers
    body: Any = error.body
    entry = messages_log(sdk_server)[-1]
    assert body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error"
    assert body["request_id"] == headers["request-id"] == entry["request_id"]
    assert "2 requests per minute" in body["error"]["message"]
    assert headers["anthropic-ratelimit-requests-limit"] == "2"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == str(
        rounded_thousand(entry["remaining_input_tokens"])
    )
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert entry["refused_by"] == "requests"
    # Whole scenario seconds, rounded up, times the scale: the wait was under 30 s.
    told = float(headers["retry-after"]) / SDK_SCALE
    assert told == pytest.approx(round(told))
    assert 27 <= round(told) <= 30
    assert round(told) == math.ceil(entry["retry_after"] / SDK_SCALE - 1e-9)


def test_the_sdk_retries_after_what_retry_after_said(sdk_server: MockServer) -> None:
    client = sdk(sdk_server, max_retries=1)
    for _ in range(3):
        client.messages.create(model=MODEL, max_tokens=4, messages=HI)
    log = messages_log(sdk_server)
    assert [e["status"] for e in log] == [200, 200, 429, 200]
    told = math.ceil(log[2]["retry_after"] / SDK_SCALE - 1e-9) * SDK_SCALE
    waited = log[3]["arrival"] - log[2]["left"]
    assert told - 0.01 <= waited <= told + 0.3, waited


def test_a_529_is_retried_with_the_sdks_backoff(servers: dict[str, MockServer]) -> None:
    overloaded = servers["faults"]
    overloaded.reset()
    with pytest.raises(anthropic.OverloadedError) as failed:
        sdk(overloaded, max_retries=2).messages.create(model=MODEL, max_tokens=4, messages=HI)
    assert failed.value.status_code == 529
    body: Any = failed.value.body
    assert body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    log = messages_log(overloaded)
    assert [(e["status"], e["fault"]) for e in log] == [(529, "overloaded")] * 3
    assert [e["retry_count"] for e in log] == [0, 1, 2]
    # 0.5 s then 1 s, each times a jitter in (0.75, 1]; no retry-after was sent.
    gaps = [b["arrival"] - a["left"] for a, b in itertools.pairwise(log)]
    assert 0.37 <= gaps[0] <= 0.5 + 0.25, gaps
    assert 0.74 <= gaps[1] <= 1.0 + 0.25, gaps


def test_a_spend_limit_429_is_retried_and_fails_every_time(
    servers: dict[str, MockServer],
) -> None:
    spent = servers["spend"]
    spent.reset()
    client = sdk(spent, max_retries=2)
    # The first request is admitted, and its stream ends with an error event.
    with (
        client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream,
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
    ):
        "".join(stream.text_stream)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(model=MODEL, max_tokens=4, messages=HI)
    assert "retry-after" not in refused.value.response.headers
    body: Any = refused.value.body
    assert body["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}
    log = messages_log(spent)
    assert log[0]["fault"] == "stream-error"
    assert log[0]["accepted"]
    assert [(e["status"], e["fault"]) for e in log[1:]] == [(429, "spend-limit")] * 3


def test_the_shared_faults_speak_openais_words(servers: dict[str, MockServer]) -> None:
    chat = {"model": "gpt-4o-mini", "messages": HI, "max_tokens": 4}
    servers["faults"].reset()
    busy = requests.post(f"{servers['faults'].url}/v1/chat/completions", json=chat, timeout=10)
    assert (busy.status_code, busy.json()["error"]["type"]) == (503, "server_error")
    url = f"{servers['spend'].url}/v1/chat/completions"
    servers["spend"].reset()
    streamed = requests.post(url, json={**chat, "stream": True}, timeout=10)
    assert streamed.status_code == 200
    assert '"error"' in streamed.text
    assert "[DONE]" not in streamed.text
    quota = requests.post(url, json=chat, timeout=10)
    assert (quota.status_code, quota.json()["error"]["code"]) == (429, "insufficient_quota")


# -- the buckets under a burst, from the server's log --------------------------------


#: Bursts that each bucket must refuse: (the bucket, requests at once, the
#: prompt, max_tokens). The buckets are asked in order (requests, input,
#: output), so a burst refused by one must fit the ones asked before it.
BURSTS = [
    ("requests", 200, "hi", 1),  # 200 x ~9 input tokens, 1 output: only RPM binds
    ("input-tokens", 40, "x" * 2_000, 1),  # ~509 input tokens each: 3 fit the ITPM
    ("output-tokens", 40, "hi", 300),  # 3 fit the OTPM; produced: ~150 each, later
]


def burst_bodies(n: int, prompt: str, max_tokens: int) -> list[dict[str, Any]]:
    return [
        {"model": MODEL, "max_tokens": max_tokens, "messages": [
            {"role": "user", "content": f"{i:03d} {prompt}"}
        ]}
        for i in range(n)
    ]  # fmt: skip


def check_bucket(charges: list[tuple[float, int]], capacity: int, rate: float) -> None:
    """No span of admissions took more than the capacity plus the refill over it
    (`charges`: (wall instant, units) of each admission, any order)."""
    charges = sorted(charges)
    for i, (start, _) in enumerate(charges):
        total = 0
        for at, units in charges[i:]:
            total += units
            assert total <= capacity + rate * (at - start) + 1e-6 * rate + 1e-9, (start, at, total)


# With several workers, a charge stamped (by its worker's clock) this long
# before an admission may still reach Redis after it: the replay leaves it out.
IN_TRANSIT = 0.05


def check_log(log: list[dict[str, Any]], charge_mode: str, workers: int = 1) -> set[str]:
    """Every bucket within its bound, from the log; returns the buckets that refused."""
    minute = MINUTE * BURST_SCALE
    accepted = [e for e in log if e["accepted"]]
    for e in log:
        assert e["status"] == (200 if e["accepted"] else 429), e
    check_bucket([(e["wall"], 1) for e in accepted], RPM, RPM / minute)
    check_bucket([(e["wall"], e["input_charged"]) for e in accepted], ITPM, ITPM / minute)
    if charge_mode == "max-tokens":
        assert all(e["output_charged"] == e["max_tokens"] for e in accepted)
        check_bucket([(e["wall"], e["output_charged"]) for e in accepted], OTPM, OTPM / minute)
    else:
        # Output charged once produced: each request started while the bucket,
        # replayed from the log's charges, was not empty. One process charges
        # and admits in the order of its clock; several may not (IN_TRANSIT).
        charges = sorted((e["output_charged_at"], e["output_charged_later"]) for e in accepted)
        rate = OTPM / minute
        transit = IN_TRANSIT if workers > 1 else 0.0
        for e in accepted:
            full_at = 0.0
            for at, units in charges:
                if at >= e["wall"] - transit:
                    break
                full_at = max(full_at, at) + units / rate
            level = OTPM - max(0.0, full_at - e["wall"]) * rate
            assert level >= 1 - 1e-3 * rate, (e, level)
    return {e["refused_by"] for e in log if not e["accepted"]}


def bursts(server: MockServer, charge_mode: str, workers: int = 1) -> None:
    """Each burst at once on a reset server, checked from the log; each
    refused by the bucket it is made for."""
    url = f"{server.url}/v1/messages"
    for bucket, n, prompt, max_tokens in BURSTS:
        server.reset()
        statuses = post_all(url, burst_bodies(n, prompt, max_tokens), headers=HEADERS)
        deadline = time.monotonic() + 10
        while True:  # every answer and every output charge in the log
            log = messages_log(server)
            if all(e["left"] is not None for e in log) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(log) == n
        assert sorted(statuses) == sorted(e["status"] for e in log)
        assert bucket in check_log(log, charge_mode, workers)


@pytest.mark.parametrize("charge_mode", ["max-tokens", "produced"])
def test_no_bucket_admits_more_than_its_capacity_and_refill(
    servers: dict[str, MockServer], charge_mode: str
) -> None:
    bursts(servers[charge_mode], charge_mode)


@pytest.mark.parametrize(
    ("name", "charge_mode"), [("redis", "max-tokens"), ("redis-produced", "produced")]
)
def test_four_workers_on_redis_admit_no_more_than_each_bucket(
    servers: dict[str, MockServer], name: str, charge_mode: str
) -> None:
    bursts(servers[name], charge_mode, workers=4)
    assert len({e["worker"] for e in messages_log(servers[name])}) >= 2


# -- the command line -------------------------------------------------------------


def test_keys_version_and_body_size_are_refused_in_anthropics_words(
    sdk_server: MockServer,
) -> None:
    url = f"{sdk_server.url}/v1/messages"
    body = {"model": MODEL, "max_tokens": 4, "messages": HI}
    answers = [
        requests.post(url, json=body, headers={**HEADERS, "x-api-key": "sk-other"}, timeout=10),
        requests.post(url, json=body, headers={"x-api-key": "sk-ant-test"}, timeout=10),
        requests.post(url, json={**body, "system": "x" * 30_000}, headers=HEADERS, timeout=10),
    ]
    kinds = [(a.status_code, a.json()["error"]["type"]) for a in answers]
    assert kinds == [
        (401, "authentication_error"),
        (400, "invalid_request_error"),
        (413, "request_too_large"),
    ]
    assert all(a.json()["request_id"].startswith("req_") for a in answers)
    assert answers[0].headers["request-id"] == answers[0].json()["request_id"]
    assert [e["status"] for e in messages_log(sdk_server)] == [401, 400, 413]
    # None of them cost the project anything: both requests of its minute are left.
    client = sdk(sdk_server)
    for _ in range(2):
        client.messages.create(model=MODEL, max_tokens=4, messages=HI)
    assert {e["project"] for e in messages_log(sdk_server) if e["accepted"]} == {"team"}


def test_a_bad_anthropic_flag_is_one_clear_line() -> None:
    # The rest, in process: tests/unit/test_anthropic_api.py.
    result = run_cli("mock_server", "--port", "0", "--otpm", "0")
    assert_one_line_error(result, "--otpm 0 allows no token")
