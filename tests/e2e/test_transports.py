"""The transports: every attempt bounded (time and body), and sent when it reached the wire.

The misbehaving server here is a few lines of raw sockets, because the mock
server behaves: it trickles a body one byte at a time, or sends one that
never ends, and counts the bytes it got out.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.transports.body import MAX_BODY
from tests.helpers import StartServer, run_cli

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


class Misbehaving:
    """An HTTP server on 127.0.0.1 that answers every request with `mode`'s 200:

    - "trickle": Content-Length 1000, one byte every `pause` seconds;
    - "endless": no length, 64 KiB chunks until the client hangs up.

    Each connection stops by itself after `give_up` seconds, so a client
    that is not bounded is still not kept forever. `sent` counts body bytes
    written to the sockets.
    """

    def __init__(self, mode: str, pause: float = 0.1, give_up: float = 15.0) -> None:
        self.mode = mode
        self.pause = pause
        self.give_up = give_up
        self.sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/chat"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        end = time.monotonic() + self.give_up
        with conn:
            try:
                if not conn.recv(65536):
                    return  # the client's reachability probe: connect, close
                if self.mode == "trickle":
                    conn.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
                    while time.monotonic() < end and not self._stop.is_set():
                        conn.sendall(b" ")
                        self.sent += 1
                        time.sleep(self.pause)
                else:
                    conn.sendall(HEAD + b"Connection: close\r\n\r\n")
                    chunk = b" " * 65536
                    while time.monotonic() < end and not self._stop.is_set():
                        conn.sendall(chunk)
                        self.sent += len(chunk)
            except OSError:
                return  # the client hung up: what a bounded client does

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def misbehaving() -> Iterator[list[Misbehaving]]:
    servers: list[Misbehaving] = []
    yield servers
    for server in servers:
        server.close()


def one_attempt(name: str, url: str, tmp_path: Path) -> tuple[float, dict[str, object]]:
    """Run `python -m clients NAME` for one request, one attempt, 1 s per attempt;
    return its wall time and its one attempt record."""
    out = tmp_path / f"{name}.json"
    began = time.monotonic()
    result = run_cli(
        "clients", name, "--url", url, "-n", "1", "--attempts", "1",
        "--request-timeout", "1", "--deadline", "20", "--json", str(out),
        timeout=60,
    )  # fmt: skip
    took = time.monotonic() - began
    assert "Traceback" not in result.stderr, result.stderr
    attempts = json.loads(out.read_text())["attempts"]
    assert len(attempts) == 1, attempts
    attempt: dict[str, object] = attempts[0]
    return took, attempt


@pytest.mark.parametrize("name", ["thread_pool", "naive_gather"])
def test_a_trickling_body_is_cut_at_the_request_timeout(
    name: str, misbehaving: list[Misbehaving], tmp_path: Path
) -> None:
    # A byte every 0.1 s keeps every read alive: requests' per-read timeout
    # never fires, so before the watchdog thread_pool ran the whole 15 s.
    server = Misbehaving("trickle")
    misbehaving.append(server)
    took, attempt = one_attempt(name, server.url, tmp_path)
    assert attempt["outcome"] == "timeout", attempt
    duration = float(attempt["finished"]) - float(attempt["sent"])  # type: ignore[arg-type]
    assert 0.9 < duration < 1.6, attempt
    assert took < 8, took  # interpreter start-up included


@pytest.mark.parametrize("name", ["thread_pool", "naive_gather"])
def test_an_endless_body_is_an_error_not_memory(
    name: str, misbehaving: list[Misbehaving], tmp_path: Path
) -> None:
    server = Misbehaving("endless")
    misbehaving.append(server)
    took, attempt = one_attempt(name, server.url, tmp_path)
    # Before the ceiling, both read until their timeout: hundreds of MiB.
    assert attempt["outcome"] == "error", attempt
    duration = float(attempt["finished"]) - float(attempt["sent"])  # type: ignore[arg-type]
    assert duration < 0.9, attempt  # ended by the ceiling, not the timeout
    # What the server got out: the ceiling plus what the socket buffers held.
    assert server.sent < 16 * MAX_BODY, server.sent
    assert took < 8, took


def test_the_pool_wait_is_recorded_apart_and_sent_is_when_the_server_saw_it(
    start_server: StartServer, tmp_path: Path
) -> None:
    # 6 requests through a pool of 2 connections, 0.1 s each: 3 waves. Every
    # record's send must be its arrival at the server, and the 4 that waited
    # for a connection must say so in pool_wait, not in a send stamped early.
    server = start_server(rate="1000/second", latency="1-1", time_scale=0.1)
    out = tmp_path / "pool.json"
    result = run_cli(
        "clients", "naive_gather", "--url", server.chat_url, "-n", "6", "--pool", "2",
        "--time-scale", "0.1", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = json.loads(out.read_text())
    sends = sorted(run["started"] + a["sent"] for a in run["attempts"])
    arrivals = sorted(e["arrival"] for e in server.log())
    assert len(sends) == len(arrivals) == 6
    gaps = [arrival - sent for sent, arrival in zip(sends, arrivals, strict=True)]
    # The server's stamp follows the client's by the trip through its stack. The
    # client stamps just after writing the request, so on a busy machine a client
    # preempted between the write and its stamp may stamp a few ms after arrival.
    assert all(-0.01 < gap < 0.05 for gap in gaps), gaps
    waited = sorted(a["pool_wait"] for a in run["attempts"])
    assert all(w < 0.05 for w in waited[:2]), waited
    assert all(w > 0.08 for w in waited[2:]), waited
