"""The Gemini endpoint, end to end: the official `google-genai` SDK against a
real server process, and the server's own log under a burst, in memory and
with four workers on Redis.

Servers are started once per module, all at once, and reset between tests.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from google import genai
from google.genai import errors, types

from mock_server.endpoints.gemini.errors import format_seconds
from mock_server.endpoints.gemini.schema import input_tokens
from mock_server.processes.server import MockServer
from mock_server.vocabulary import MINUTE
from tests.helpers import assert_one_line_error, post_all, run_cli

MODEL = "gemini-2.5-flash"

# The SDK server: a minute lasts 3 s, a (real-length) day 72 minutes; each test
# has a project of its own, and every project 2 requests a minute and a day.
SDK_SCALE = 0.05
PROJECTS = ("gen", "quota", "retry", "once", "keys")

# The burst servers: a minute lasts 0.3 s, a day of 2 minutes 0.6 s, and the
# clock starts at noon, so the first day ends after one minute. The quotas are
# small, so that each binds even when a loaded machine serves a few dozen
# requests a second.
BURST_SCALE = 0.005
BURST_RPM, BURST_ITPM, BURST_RPD = 6, 600, 8
BURST_DAY_MINUTES = 2

# Half the requests overloaded, one admitted per project, every stream broken.
FAULTS = ("--overload-rate", "0.5", "--spend-limit", "1", "--stream-error-rate", "1")


def burst_args(*extra: str) -> tuple[str, ...]:
    return (
        "--rpm", str(BURST_RPM), "--itpm", str(BURST_ITPM), "--rpd", str(BURST_RPD),
        "--day-minutes", str(BURST_DAY_MINUTES), "--day-start", "12:00", *extra,
    )  # fmt: skip


@contextlib.contextmanager
def running(servers: dict[str, MockServer]) -> Iterator[dict[str, MockServer]]:
    """Start every server concurrently (each from a thread that outlives it:
    a server dies with the thread that started it), stop them all on exit."""
    pool = ThreadPoolExecutor(len(servers))
    try:
        list(pool.map(MockServer.start, servers.values()))
        yield servers
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
        pool.shutdown()


@pytest.fixture(scope="module")
def servers(redis_url: str) -> Iterator[dict[str, MockServer]]:
    keys = [a for p in PROJECTS for a in ("--api-key", f"key-{p}={p}")]
    base = redis_url.rsplit("/", 1)[0]
    with running(
        {
            "sdk": MockServer(
                seed=1,
                time_scale=SDK_SCALE,
                extra_args=("--rpm", "2", "--itpm", "1000", "--rpd", "2", *keys),
            ),
            "faults": MockServer(
                seed=3,
                time_scale=SDK_SCALE,
                extra_args=FAULTS,
            ),
            "memory": MockServer(seed=1, time_scale=BURST_SCALE, extra_args=burst_args()),
            "redis": MockServer(
                seed=1,
                time_scale=BURST_SCALE,
                extra_args=burst_args("--workers", "4", "--storage", f"{base}/1"),
            ),
        }
    ) as started:
        yield started


def client(
    server: MockServer, project: str, retry: types.HttpRetryOptions | None = None
) -> genai.Client:
    options = types.HttpOptions(base_url=server.url, retry_options=retry)
    return genai.Client(api_key=f"key-{project}", http_options=options)


def gemini_log(server: MockServer, project: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in server.log()
        if "prompt_tokens" in e or e.get("endpoint") in ("generateContent", "streamGenerateContent")
        if project is None or e.get("project") == project
    ]


def test_the_sdk_generates_and_streams_and_counts(servers: dict[str, MockServer]) -> None:
    server = servers["sdk"]
    sdk = client(server, "gen")
    config = types.GenerateContentConfig(max_output_tokens=4, system_instruction="be brief")
    answer = sdk.models.generate_content(model=MODEL, contents="hello there", config=config)
    assert answer.text
    assert answer.model_version == MODEL
    usage = answer.usage_metadata
    assert usage is not None
    body = {"contents": [{"parts": [{"text": "hello there"}]}]}
    body["systemInstruction"] = {"parts": [{"text": "be brief"}]}
    assert usage.prompt_token_count == input_tokens(body) == 5
    assert 1 <= (usage.candidates_token_count or 0) <= 4

    chunks = list(sdk.models.generate_content_stream(model=MODEL, contents="a" * 40))
    assert chunks
    assert all(c.text for c in chunks)
    assert chunks[-1].candidates
    assert chunks[-1].candidates[0].finish_reason is not None
    assert sdk.models.count_tokens(model=MODEL, contents="a" * 40).total_tokens == 10
    assert [m.name for m in sdk.models.list()] == [f"models/{MODEL}"]

    plain, streamed = gemini_log(server, "gen")
    assert (plain["stream"], plain["prompt_tokens"], plain["tokens_charged"]) == (False, 5, 5)
    assert plain["completion_tokens"] == usage.candidates_token_count
    assert (streamed["stream"], streamed["endpoint"]) == (True, "streamGenerateContent")
    assert streamed["completion_tokens"] == len(chunks)
    assert streamed["first_token"] is not None
    # /v1 stays the OpenAI-compatible endpoint's for anyone without a Google key:
    # its 401, in OpenAI's words.
    for path in ("/v1/models", "/v1/models/ft:gpt-4o-mini:org:custom"):
        openai_models = requests.get(f"{server.url}{path}", timeout=10)
        assert openai_models.status_code == 401
        assert openai_models.json()["error"]["type"] == "invalid_request_error"


def test_the_sdk_error_carries_every_quota_hit_and_the_retry_delay(
    servers: dict[str, MockServer],
) -> None:
    server = servers["sdk"]
    sdk = client(server, "quota")
    for _ in range(2):
        sdk.models.generate_content(model=MODEL, contents="x")
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_content(model=MODEL, contents="x")
    error = caught.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in error.details["error"]["details"]}
    *admitted, refused = gemini_log(server, "quota")
    # The minute's quota too, unless a minute turned between the requests.
    same_minute = refused["minute"] == admitted[0]["minute"]
    assert refused["refused_by"] == ["rpm", "rpd"] if same_minute else ["rpd"]
    assert [v["quotaId"] for v in details["QuotaFailure"]["violations"]] == [
        "GenerateRequestsPerMinutePerProjectPerModel",
        "GenerateRequestsPerDayPerProjectPerModel",
    ][not same_minute :]
    # The day clock started at midnight: the wait is the rest of the day.
    wait = refused["retry_after"]
    assert wait == pytest.approx(MINUTE * 1440 * SDK_SCALE - refused["clock"] * SDK_SCALE)
    assert (error.message or "").endswith(f"Please retry in {format_seconds(wait)}.")
    # RetryInfo: whole scenario seconds, rounded down (4315.6 wall seconds is
    # 86,312 scenario seconds).
    whole = math.floor(wait / SDK_SCALE) * SDK_SCALE
    assert details["RetryInfo"]["retryDelay"] == format_seconds(round(whole, 9))
    assert whole < wait < whole + SDK_SCALE


def test_the_sdk_tries_once_by_default_and_retries_with_backoff_when_told(
    servers: dict[str, MockServer],
) -> None:
    server = servers["sdk"]
    # A client is kept while it is used: one dropped closes its connections.
    for project in ("retry", "once"):
        sdk = client(server, project)
        for _ in range(2):
            sdk.models.generate_content(model=MODEL, contents="x")

    once = client(server, "once")
    with pytest.raises(errors.ClientError):
        once.models.generate_content(model=MODEL, contents="x")
    assert [e["status"] for e in gemini_log(server, "once")] == [200, 200, 429]

    # Four attempts, 0.1 s then doubling, plus up to 0.05 s of jitter each; the
    # RetryInfo (the rest of the day) is not read.
    retry = types.HttpRetryOptions(attempts=4, initial_delay=0.1, exp_base=2, jitter=0.05)
    retrying = client(server, "retry", retry)
    with pytest.raises(errors.ClientError):
        retrying.models.generate_content(model=MODEL, contents="x")
    attempts = gemini_log(server, "retry")[2:]
    assert [e["status"] for e in attempts] == [429] * 4
    gaps = [b["arrival"] - a["arrival"] for a, b in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        # Up to 0.45 s late on a loaded machine: still far below its default 1-2 s.
        assert delay <= gap <= delay + 0.05 + 0.45, gaps

    # A 400 is not among the statuses it retries: one attempt.
    wrong = genai.Client(
        api_key="not-a-key",
        http_options=types.HttpOptions(base_url=server.url, retry_options=retry),
    )
    before = len(server.log())
    with pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=MODEL, contents="x")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert len(server.log()) == before + 1


def test_a_missing_key_is_403_and_the_key_may_come_in_the_query(
    servers: dict[str, MockServer],
) -> None:
    url = f"{servers['sdk'].url}/v1beta/models/{MODEL}:generateContent"
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    missing = requests.post(url, json=body, timeout=10)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert requests.post(f"{url}?key=key-keys", json=body, timeout=10).status_code == 200
    bad = requests.post(f"{url}?key=key-keys", json={"contents": []}, timeout=10)
    assert (bad.status_code, bad.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_the_faults_in_google_words_and_what_the_sdk_retries(
    servers: dict[str, MockServer],
) -> None:
    server = servers["faults"]
    retry = types.HttpRetryOptions(attempts=8, initial_delay=0.01, max_delay=0.05, jitter=0.01)
    sdk = genai.Client(
        api_key="any", http_options=types.HttpOptions(base_url=server.url, retry_options=retry)
    )
    # 503s are retried until one is admitted; its stream then breaks with an
    # error event, which the SDK raises (no retry: the status was 200).
    config = types.GenerateContentConfig(max_output_tokens=8)
    with pytest.raises(errors.ServerError) as broken:
        for _ in sdk.models.generate_content_stream(model=MODEL, contents="x", config=config):
            pass
    assert (broken.value.code, broken.value.status) == (503, "UNAVAILABLE")
    *overloaded, streamed = log = gemini_log(server)
    assert overloaded
    assert {(e["status"], e["fault"]) for e in overloaded} == {(503, "overloaded")}
    assert (streamed["status"], streamed["fault"]) == (200, "stream-error")

    # The project's spend is used up: 402, which the SDK does not retry.
    with pytest.raises(errors.ClientError) as spent:
        sdk.models.generate_content(model=MODEL, contents="x")
    assert (spent.value.code, spent.value.status) == (402, "RESOURCE_EXHAUSTED")
    assert len(gemini_log(server)) == len(log) + 1


def burst_bodies(n: int, seed: int) -> list[dict[str, Any]]:
    """Mostly small prompts (the RPM binds), some large (the TPM binds)."""
    rng = random.Random(seed)
    sizes = [rng.choice([rng.randint(4, 40), rng.randint(200, 1200)]) for _ in range(n)]
    return [{"contents": [{"role": "user", "parts": [{"text": "x" * s}]}]} for s in sizes]


def check_quotas(log: list[dict[str, Any]]) -> set[str]:
    """From the log alone: no minute admitted more than the RPM or the TPM, no
    day more than the RPD; returns the quotas that refused something."""
    minute = MINUTE
    day = BURST_DAY_MINUTES * MINUTE
    offset = day / 2  # the clock starts at noon
    per_minute: defaultdict[int, list[int]] = defaultdict(list)
    per_day: defaultdict[int, int] = defaultdict(int)
    for e in log:
        assert e["status"] == (200 if e["accepted"] else 429)
        assert (e["minute"], e["day"]) == (
            math.floor(e["clock"] / minute),
            math.floor((e["clock"] + offset) / day),
        )
        if e["accepted"]:
            assert e["tokens_charged"] == e["prompt_tokens"]
            assert e["refused_by"] is None
            per_minute[e["minute"]].append(e["tokens_charged"])
            per_day[e["day"]] += 1
        else:
            assert e["tokens_charged"] == 0
            assert e["refused_by"]
    for charges in per_minute.values():
        assert len(charges) <= BURST_RPM
        assert sum(charges) <= BURST_ITPM
    assert all(count <= BURST_RPD for count in per_day.values())
    return {q for e in log for q in e["refused_by"] or ()}


def burst_and_spread(server: MockServer) -> list[dict[str, Any]]:
    url = f"{server.url}/v1beta/models/{MODEL}:generateContent"
    server.reset()
    statuses = post_all(url, burst_bodies(200, seed=1))
    log = gemini_log(server)
    assert len(log) == 200
    assert sorted(statuses) == sorted(e["status"] for e in log)
    check_quotas(log)
    assert sum(e["accepted"] for e in log) >= 3

    # The same number spread over about five minutes and three days.
    server.reset()
    rng = random.Random(2)
    offsets = [rng.uniform(0, 5 * MINUTE * BURST_SCALE) for _ in range(200)]
    post_all(url, burst_bodies(200, seed=2), offsets)
    spread = gemini_log(server)
    assert len(spread) == 200
    assert check_quotas(spread) == {"rpm", "itpm", "rpd"}
    assert len({e["day"] for e in spread if e["accepted"]}) >= 3
    return log + spread


def test_no_minute_or_day_admits_more_than_its_quotas(servers: dict[str, MockServer]) -> None:
    burst_and_spread(servers["memory"])


def test_four_workers_on_redis_admit_no_more_than_the_quotas(
    servers: dict[str, MockServer],
) -> None:
    log = burst_and_spread(servers["redis"])
    assert len({e["worker"] for e in log}) >= 2


def test_bad_gemini_flags_are_one_clear_line() -> None:
    assert_one_line_error(run_cli("mock_server", "--port", "0", "--day-start", "7pm"), "HH:MM")
