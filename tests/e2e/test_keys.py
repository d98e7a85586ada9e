"""API keys and projects, end to end: the limit is a project's, never an
address's, and nothing a client makes up (a forwarded header, a key the
server did not issue) buys it another budget.

Two real servers per module, started at once and reset between tests: one
that issued no keys, one with keys of two projects.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.records.scenario import parse_scenario
from bench.running.plan import BenchPlan
from bench.running.runner import run_bench
from mock_server.endpoints.openai.errors import masked_key
from mock_server.keys import OPEN_PROJECT, Keys, KeySpecError, bearer, parse_keys
from mock_server.processes.server import MockServer
from tests.helpers import assert_one_line_error, run_cli

ALPHA_1, ALPHA_2, BETA = "sk-alpha-0000000000001", "sk-alpha-0000000000002", "sk-beta-000000000001"
# /chat: 2 per second at time scale 1, answers at once: a burst sent together
# lands in one window even on a busy machine. /v1: 2 requests and 1,000
# tokens a minute, first token at once.
SERVER = {
    "rate": "2/second",
    "latency": "0",
    "extra_args": ("--rpm", "2", "--tpm", "1000", "--ttft", "0", "--token-time", "0"),
}
KEYED = ("--api-key", f"{ALPHA_1}=alpha", "--api-key", f"{ALPHA_2}=alpha", "--api-key", BETA)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, MockServer]]:
    started = {
        "open": MockServer(**SERVER),  # type: ignore[arg-type]
        "keyed": MockServer(**{**SERVER, "extra_args": (*SERVER["extra_args"], *KEYED)}),  # type: ignore[arg-type]
    }
    # Each from a thread that outlives it (a server dies with the thread that started it).
    pool = ThreadPoolExecutor(len(started))
    try:
        list(pool.map(MockServer.start, started.values()))
        yield started
    finally:
        for server in started.values():
            server.__exit__(None, None, None)
        pool.shutdown()


@pytest.fixture
def open_server(servers: dict[str, MockServer]) -> MockServer:
    servers["open"].reset()
    return servers["open"]


@pytest.fixture
def keyed(servers: dict[str, MockServer]) -> MockServer:
    servers["keyed"].reset()
    return servers["keyed"]


def burst(
    url: str, headers: list[dict[str, str]], method: str = "GET", body: Any = None
) -> list[tuple[int, dict[str, str], Any]]:
    """One request per headers dict, all at once: (status, headers, JSON body) each."""

    async def main() -> list[tuple[int, dict[str, str], Any]]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(h: dict[str, str]) -> tuple[int, dict[str, str], Any]:
                async with session.request(method, url, headers=h, json=body) as r:
                    return r.status, dict(r.headers), json.loads(await r.read())

            return await asyncio.gather(*(one(h) for h in headers))

    return asyncio.run(main())


def key(k: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {k}"}


COMPLETION = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


def test_no_header_or_unissued_key_escapes_the_chat_limit(open_server: MockServer) -> None:
    """Ten at once, each claiming another address and presenting a key of its
    own making: one budget, 2 × 200, as for ten plain requests."""
    headers = [
        {"X-Forwarded-For": f"10.0.0.{i}", "X-Real-IP": f"10.0.1.{i}", **key(f"made-up-{i}")}
        for i in range(10)
    ]
    statuses = sorted(status for status, _, _ in burst(open_server.chat_url, headers))
    assert statuses == [200] * 2 + [429] * 8
    log = open_server.log()
    assert sum(e["accepted"] for e in log) == 2
    assert {e["project"] for e in log} == {None}  # no keys: no project is logged


def test_each_project_has_its_own_chat_budget(keyed: MockServer) -> None:
    """Keys of one project share its 2 per second; another project has its own."""
    headers = [key(ALPHA_1), key(ALPHA_2)] * 2 + [key(BETA)] * 4
    replies = burst(keyed.chat_url, headers)
    alpha = sorted(status for status, _, _ in replies[:4])
    beta = sorted(status for status, _, _ in replies[4:])
    assert alpha == beta == [200, 200, 429, 429]
    accepted = [e["project"] for e in keyed.log() if e["accepted"]]
    assert sorted(accepted) == ["alpha", "alpha", "key3", "key3"]


def test_a_missing_or_unknown_key_is_refused_before_the_limit(keyed: MockServer) -> None:
    unknown = "sk-not-issued-000000000000wxyz"
    chat = burst(keyed.chat_url, [{}, key(unknown), {"X-Api-Key": ALPHA_1}])
    assert [status for status, _, _ in chat] == [401] * 3
    assert chat[0][1]["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer KEY" in chat[0][2]["error"]

    v1 = burst(f"{keyed.url}/v1/chat/completions", [{}, key(unknown)], "POST", COMPLETION)
    assert [status for status, _, _ in v1] == [401, 401]
    # OpenAI's own bodies: a missing key has no code, an unknown one is
    # invalid_api_key and is echoed masked (first 8, a star each, last 4).
    missing, wrong = v1[0][2]["error"], v1[1][2]["error"]
    assert missing["message"].startswith("You didn't provide an API key.")
    assert (missing["type"], missing["param"], missing["code"]) == (
        "invalid_request_error",
        None,
        None,
    )
    assert wrong == {
        "message": "Incorrect API key provided: sk-not-i******************wxyz. You can find "
        "your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    # The model list asks for a key too, as OpenAI's does.
    models = [f"{keyed.url}/v1/models", f"{keyed.url}/v1/models/gpt-4o-mini"]
    for url in models:
        assert [s for s, _, _ in burst(url, [{}, key(unknown), key(ALPHA_1)])] == [401, 401, 200]
    # Refused before any limit: the budgets are untouched, and the log says not accepted.
    assert [s for s, _, _ in burst(keyed.chat_url, [key(ALPHA_1)] * 2)] == [200, 200]
    log = keyed.log()
    assert [(e["status"], e["accepted"]) for e in log[:5]] == [(401, False)] * 5
    assert all(e["decided"] is None for e in log[:5])


def test_each_project_has_its_own_openai_requests_and_tokens(keyed: MockServer) -> None:
    """2 RPM and 1,000 TPM per project: the headers count each project apart."""
    url = f"{keyed.url}/v1/chat/completions"

    def one(k: str) -> tuple[int, dict[str, str]]:
        status, headers, _ = burst(url, [key(k)], "POST", COMPLETION)[0]
        return status, headers

    a1, b1, a2, a3, b2 = one(ALPHA_1), one(BETA), one(ALPHA_2), one(ALPHA_1), one(BETA)
    assert [s for s, _ in (a1, b1, a2, a3, b2)] == [200, 200, 200, 429, 200]
    charge = 1000 - int(a1[1]["x-ratelimit-remaining-tokens"])
    assert charge > 100  # max_tokens 100 and the prompt
    # Beta's first request finds beta's budgets whole, not what alpha left.
    assert b1[1]["x-ratelimit-remaining-tokens"] == str(1000 - charge)
    assert b1[1]["x-ratelimit-remaining-requests"] == "1"
    assert a2[1]["x-ratelimit-remaining-tokens"] == str(1000 - 2 * charge)
    assert "Rate limit reached" in json.dumps(burst(url, [key(ALPHA_2)], "POST", COMPLETION)[0][2])
    log = keyed.log()
    assert [(e["project"], e["accepted"]) for e in log] == [
        ("alpha", True),
        ("key3", True),
        ("alpha", True),
        ("alpha", False),
        ("key3", True),
        ("alpha", False),
    ]


def test_the_bench_passes_its_key_to_clients_and_commands(tmp_path: Path) -> None:
    """The bench's own server started with --api-key: a built-in client and a
    command (reading OPENAI_API_KEY) both get through, and no record holds the key."""
    secret = "sk-bench-secret-0000000000000000"
    command = (
        f'{sys.executable} -c "import os, urllib.request as u; '
        "[u.urlopen(u.Request(os.environ['RATEBENCH_CHAT_URL'], headers={'Authorization': "
        "'Bearer ' + os.environ['OPENAI_API_KEY']})).read() for _ in range(2)]\""
    )
    plan = BenchPlan(
        clients=("token_bucket",),
        runs=1,
        scenario=parse_scenario(n=2, time_scale=0.05, latency="0"),
        commands=(("mine", command),),
        api_key=secret,
    )
    records = {r.client: r for r in run_bench(plan, tmp_path)}
    for name in ("token_bucket", "mine"):
        assert records[name].ok, records[name].reason
        assert [e.status for e in records[name].server_log] == [200, 200]
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert secret not in written


def test_bench_at_a_keyed_url_without_a_key_is_one_line(keyed: MockServer) -> None:
    result = run_cli("bench", "--url", keyed.url, "--runs", "1")
    assert_one_line_error(result, "API keys", "--api-key")


def test_api_key_flags_are_checked() -> None:
    keys = parse_keys(["k1=alpha", "k2=alpha", "k3"])
    assert keys.names() == ("alpha", "key3")
    assert keys.project_of("k2") == "alpha"
    assert keys.project_of("nope") is None
    assert keys.project_of(None) is None
    assert "k1" not in repr(keys)
    assert Keys().project_of("anything") == OPEN_PROJECT
    assert bearer({"authorization": "Bearer  k1 "}) == "k1"
    assert bearer({"authorization": "Basic k1"}) is None
    assert masked_key("short") == "short"
    for bad in (["a b"], ["k=alpha", "k=beta"], ["k="], [""]):
        with pytest.raises(KeySpecError):
            parse_keys(bad)
    assert_one_line_error(
        run_cli("mock_server", "--api-key", "k=", "--port", "0"), "--api-key", "project"
    )


def test_the_log_names_no_key(keyed: MockServer) -> None:
    burst(keyed.chat_url, [key(ALPHA_1)])
    text = json.dumps(keyed.get("/log"))
    assert ALPHA_1 not in text
    assert '"projects": ["alpha", "key3"]' in text
