"""`GET /log` read a page at a time, encoded without holding the event loop,
and telling what the client really got: a real server process.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bench.records.results import server_entries
from mock_server.processes.redis_server import RedisServer
from mock_server.processes.server import MockServer, fetch_log
from tests.helpers import ended_entry, fire, run_cli

LATENCY = 0.4  # wall seconds each accepted /chat sleeps
SEED = 5


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(rate="1000/second", latency=f"{LATENCY}-{LATENCY}", seed=SEED) as running:
        yield running


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def chat(server: MockServer, count: int) -> None:
    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
        writer.write(b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(count)))

    asyncio.run(main())


def port(server: MockServer) -> int:
    return int(urllib.parse.urlsplit(server.url).port or 0)


def test_log_pages_through_a_cursor(server: MockServer) -> None:
    server.reset()
    chat(server, 25)
    whole = get_json(f"{server.url}/log")
    pages, since = [], 0
    while True:
        page = get_json(f"{server.url}/log?since={since}&limit=10")
        pages.append([e["seq"] for e in page["entries"]])
        if not page["entries"]:
            break
        assert page["next"] == since + len(page["entries"])
        since = page["next"]
    assert pages == [list(range(10)), list(range(10, 20)), list(range(20, 25)), []]
    # A page leaves out null fields; a plain read keeps every one, for old readers.
    compact = fetch_log(server.url)
    assert all(None not in e.values() for e in compact["entries"])
    assert all(e["worker"] is None and "disconnected" in e for e in whole["entries"])
    assert server_entries(compact["entries"]) == server_entries(whole["entries"])
    assert compact["settings"] == whole["settings"]
    assert len(json.dumps(compact["entries"])) < len(json.dumps(whole["entries"]))


def entry_of(server: MockServer, seq: int) -> dict[str, Any]:
    """Entry `seq` once its request has ended (left or the client gone)."""
    return ended_entry(server, lambda log: log[seq], wait=3.0)


def test_an_abandoned_answer_is_not_logged_as_delivered(server: MockServer) -> None:
    server.reset()
    with socket.create_connection(("127.0.0.1", port(server))) as sock:
        sock.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(LATENCY / 4)  # accepted, asleep: the client gives up
    chat(server, 1)  # and one that waits for its answer
    abandoned, delivered = entry_of(server, 0), entry_of(server, 1)
    assert abandoned["accepted"] is True
    assert abandoned["left"] is None
    # It saw the client go before the answer was due.
    assert abandoned["decided"] < abandoned["disconnected"] < abandoned["decided"] + LATENCY
    assert delivered["left"] is not None
    assert delivered["disconnected"] is None


def test_log_reports_the_seed_in_force(server: MockServer) -> None:
    server.reset(seed=77)
    assert get_json(f"{server.url}/log")["settings"]["seed"] == 77
    assert fetch_log(server.url)["settings"]["seed"] == 77
    server.reset()
    assert get_json(f"{server.url}/log")["settings"]["seed"] == SEED


def test_a_log_read_keeps_up_with_an_old_reader(server: MockServer) -> None:
    """`GET /log` as before: every entry, every field, one JSON document."""
    server.reset()
    chat(server, 3)
    conn = http.client.HTTPConnection("127.0.0.1", port(server), timeout=10)
    conn.request("GET", "/log")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/json"
    log = json.loads(resp.read())
    conn.close()
    assert [e["seq"] for e in log["entries"]] == [0, 1, 2]
    assert set(log) == {"now", "settings", "entries"}


def read_pages(server: MockServer, limit: int) -> list[list[dict[str, Any]]]:
    pages, since = [], 0
    while True:
        page = get_json(f"{server.url}/log?since={since}&limit={limit}")
        pages.append(page["entries"])
        if not page["entries"]:
            return pages
        since = page["next"]


def test_the_shared_log_of_two_workers_pages_in_arrival_order() -> None:
    with (
        RedisServer() as redis,
        MockServer(
            rate="1000/second",
            latency="0",
            seed=SEED,
            extra_args=("--workers", "2", "--storage", redis.url),
        ) as server,
    ):
        fire(server.chat_url, [i * 0.002 for i in range(30)])
        pages = read_pages(server, limit=7)
        assert [len(p) for p in pages] == [7, 7, 7, 7, 2, 0]
        paged = [e for p in pages for e in p]
        whole = server.log()
        assert [e["seq"] for e in paged] == list(range(30))
        assert server_entries(paged) == server_entries(whole)
        assert [e["arrival"] for e in paged] == sorted(e["arrival"] for e in whole)
        # /reset?seed=N reaches the settings whichever worker answers /log.
        server.reset(seed=41)
        assert {get_json(f"{server.url}/log")["settings"]["seed"] for _ in range(6)} == {41}


def test_log_cost_prints_its_figures() -> None:
    result = run_cli("bench.experiments.log_cost", "--requests", "40", "--only", "log")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.removeprefix("log: "))
    assert figures["log_entries"] == figures["paged_entries"] == 40
    assert figures["health_max_ms_during_log"] >= 0
