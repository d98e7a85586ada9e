"""`--strategy token-bucket` on a real server, judged from its own log: under a
burst of 200 requests no span of time admits more than the bucket's capacity
plus its refill over the span, in memory and with four workers on Redis; the
Redis buckets decide as the memory ones do; and the official SDK, retrying
on the bucket, waits what `retry-after-ms` said and gets in on its first retry."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
import requests
from limits.storage import RedisStorage

from mock_server.endpoints.openai.errors import format_duration, retry_after_ms
from mock_server.processes.server import MockServer
from mock_server.redis_store import MillisecondRedisStorage
from mock_server.token_bucket import Bucket, Draw, MemoryBuckets, RedisBuckets
from mock_server.vocabulary import MINUTE
from tests.helpers import fire, post_all

SCALE = 0.03  # a minute lasts 1.8 s
RPM, TPM = 20, 2_000
CHAT_RATE, CHAT_LIMIT, CHAT_WINDOW = "10/minute", 10, MINUTE
MODEL = "gpt-4o-mini"


def bucket_server(*extra: str) -> MockServer:
    return MockServer(
        rate=CHAT_RATE,
        strategy="token-bucket",
        latency="0",
        seed=1,
        time_scale=SCALE,
        extra_args=(
            *("--rpm", str(RPM), "--tpm", str(TPM), "--ttft", "0", "--token-time", "0"),
            *extra,
        ),
    )


@pytest.fixture(scope="module")
def servers(redis_url: str) -> Iterator[dict[str, MockServer]]:
    """One server in memory, one of four workers on Redis, started at once (each
    from a thread that outlives it: a server dies with the thread that started it)."""
    started = {
        "memory": bucket_server(),
        "redis": bucket_server("--workers", "4", "--storage", redis_url),
    }
    pool = ThreadPoolExecutor(len(started))
    try:
        list(pool.map(MockServer.start, started.values()))
        yield started
    finally:
        for server in started.values():
            server.__exit__(None, None, None)
        pool.shutdown()


def body(max_tokens: int, content: str = "hello") -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
    }


def assert_capacity_plus_refill(
    accepted: list[dict[str, Any]], capacity: int, rate: float, cost: str | None = None
) -> None:
    """For every run of admissions i..j (in decision order): their charges are at
    most capacity + rate x (the latest decision's end - the first's start).
    `rate` in units a wall second; `cost`: the field each charges (None: 1)."""
    hits = sorted(accepted, key=lambda e: e["wall"])
    for i, first in enumerate(hits):
        charged, latest = 0, first["wall_after"]
        for e in hits[i:]:
            charged += e[cost] if cost else 1
            latest = max(latest, e["wall_after"])
            allowed = capacity + rate * (latest - first["wall"] + 1e-6)
            assert charged <= allowed, (i, charged, allowed)


def check_burst(server: MockServer) -> set[Any]:
    """200 requests at once on each API; returns the workers that served them."""
    server.reset()
    bodies = [body(random.Random(i).choice([5, 300]), f"request {i:03d}") for i in range(200)]
    with ThreadPoolExecutor(2) as pool:
        completions = pool.submit(post_all, f"{server.url}/v1/chat/completions", bodies)
        chats = pool.submit(fire, server.chat_url, [0.0] * 200)
        statuses = completions.result() + chats.result()
    log = server.log()
    assert len(log) == 400
    assert sorted(statuses) == sorted(e["status"] for e in log)
    minute = MINUTE * SCALE
    v1 = [e for e in log if e.get("endpoint") == "/v1/chat/completions"]
    admitted = [e for e in v1 if e["accepted"]]
    # A full bucket admits its capacity at once (the token bucket's, short of
    # the largest charge, or the request bucket's); the rest waits for refill.
    tokens_charged = sum(e["tokens_charged"] for e in admitted)
    assert tokens_charged > TPM - 316 or len(admitted) >= RPM
    assert len(admitted) < 200
    assert {e["refused_by"] for e in v1} >= {None, "tokens"}
    assert_capacity_plus_refill(admitted, RPM, RPM / minute)
    assert_capacity_plus_refill(admitted, TPM, TPM / minute, cost="tokens_charged")
    chat = [e for e in log if e.get("endpoint") != "/v1/chat/completions"]
    admitted = [e for e in chat if e["accepted"]]
    assert CHAT_LIMIT <= len(admitted) < 200
    assert_capacity_plus_refill(admitted, CHAT_LIMIT, CHAT_LIMIT / (CHAT_WINDOW * SCALE))
    return {e["worker"] for e in log}


def test_a_burst_in_memory_admits_no_more_than_capacity_plus_refill(
    servers: dict[str, MockServer],
) -> None:
    check_burst(servers["memory"])


def test_four_workers_on_redis_admit_no_more_than_capacity_plus_refill(
    servers: dict[str, MockServer],
) -> None:
    assert len(check_burst(servers["redis"])) >= 2


def test_redis_buckets_decide_as_memory_buckets_do(redis_url: str) -> None:
    """The Lua script and `Bucket` do the same arithmetic: the same draws at the
    same instants get the same decisions and the same states."""
    storage = MillisecondRedisStorage(redis_url, key_prefix="ratebench:test-buckets")
    assert isinstance(storage, RedisStorage)
    redis_buckets, memory = RedisBuckets(storage), MemoryBuckets()
    redis_buckets.clear()
    requests_bucket, tokens_bucket = Bucket(5, 0.5), Bucket(1000, 40.0)
    rng = random.Random(3)
    now = 1.8e9
    refusals = 0
    for i in range(300):
        now += rng.choice([0.0, rng.uniform(0, 1), rng.uniform(0, 10)])
        key = f"project-{i % 2}"
        draws = [
            Draw(f"{key}/requests", requests_bucket, 1),
            Draw(f"{key}/tokens", tokens_bucket, rng.randint(1, 700)),
        ]
        ours, theirs = memory.take(now, draws), redis_buckets.take(now, draws)
        assert ours[0] == theirs[0], i
        assert ours[1] == pytest.approx(theirs[1], abs=1e-6), i
        refusals += ours[0] is not None
    assert 30 <= refusals <= 270
    keys = ["project-0/requests", "project-1/tokens"]
    assert redis_buckets.full_at(keys) == pytest.approx(memory.full_at(keys), abs=1e-6)
    redis_buckets.clear()
    assert redis_buckets.full_at(keys) == [0.0, 0.0]


def test_the_sdk_waits_what_retry_after_ms_said_and_gets_in_on_its_first_retry(
    servers: dict[str, MockServer],
) -> None:
    server = servers["memory"]
    server.reset()
    client = openai.OpenAI(
        base_url=f"{server.url}/v1", api_key="sk-test", max_retries=2, timeout=30
    )
    rate = TPM / (MINUTE * SCALE)  # tokens a wall second
    # Nearly empty the token bucket in one request; its headers read the bucket.
    first = requests.post(f"{server.url}/v1/chat/completions", json=body(1_900), timeout=30)
    assert first.status_code == 200
    charged = 1_900 + first.json()["usage"]["prompt_tokens"]
    assert first.headers["x-ratelimit-remaining-tokens"] == str(TPM - charged)
    assert first.headers["x-ratelimit-reset-tokens"] == format_duration(charged / rate)
    # 500 more tokens wait for about 400 to refill (0.36 s): the SDK is refused,
    # sleeps what retry-after-ms says, and its retry gets in.
    done = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=500
    )
    assert done.choices[0].message.content
    log = [e for e in server.log() if e.get("endpoint") == "/v1/chat/completions"]
    assert [e["refused_by"] for e in log] == [None, "tokens", None]
    drained, refused, retried = log
    # The wait is the bucket's own: what the charge lacks, at the refill rate.
    level = TPM - charged + rate * (refused["wall"] - drained["wall"])
    assert refused["retry_after"] == pytest.approx(
        (refused["tokens_requested"] - level) / rate, abs=1e-4
    )
    told = retry_after_ms(refused["retry_after"]) / 1000
    waited = retried["arrival"] - refused["left"]
    # The SDK slept what retry-after-ms said (no backoff of its own): the gap
    # is that plus a client's round trip on a busy machine.
    assert told - 0.002 <= waited <= told + 0.3, (told, waited)
