"""The server under careless or hostile use, end to end against one real
server: bodies over the cap, headers trickled in, a `/reset` from a web page,
methods the endpoint does not take, a client gone in the middle of its body.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from bench.records.results import server_entries
from bench.running.plan import fault_reason
from bench.running.shell_command import attempts_from_log
from mock_server.cli import build_parser, settings_from_args
from mock_server.processes.server import MockServer
from tests.helpers import run_cli

CAP = 2000
HEADER_TIMEOUT = 0.3
# The first token takes 0.5 s: longer than the header deadline.
SERVER_ARGS = (
    "--max-body",
    str(CAP),
    "--header-timeout",
    str(HEADER_TIMEOUT),
    "--ttft",
    "0.5",
    "--token-time",
    "0",
)


@pytest.fixture(scope="module")
def module_server() -> Iterator[MockServer]:
    with MockServer(latency="0", extra_args=SERVER_ARGS) as server:
        yield server


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.reset()
    return module_server


def completion(content: str = "hi") -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": 1}


def request(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def address(server: MockServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def test_a_body_over_the_cap_is_a_413_in_the_api_form(server: MockServer) -> None:
    v1 = f"{server.url}/v1/chat/completions"
    json_headers = {"Content-Type": "application/json"}
    status, body = request(v1, "POST", json.dumps(completion("x" * CAP)).encode(), json_headers)
    assert status == 413
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    assert f"at most {CAP}" in error["message"]
    # A client still sending a body far larger than the socket's buffers reads
    # the 413 too (not a reset): the server takes the rest and throws it away.
    assert request(v1, "POST", b"x" * 8_000_000, json_headers)[0] == 413

    async def chunked() -> tuple[int, Any]:
        async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            for _ in range(10):
                yield b" " * 500
                await asyncio.sleep(0.005)  # in pieces: the rest is read after the cap

        async with (
            aiohttp.ClientSession() as session,
            session.post(v1, data=pieces(), headers=json_headers) as r,
        ):
            return r.status, await r.json()

    status, payload = asyncio.run(chunked())
    assert status == 413
    assert payload["error"]["type"] == "invalid_request_error"
    # A chunked body over the cap that arrives all at once.
    host, port = address(server)
    with socket.create_connection((host, port), timeout=5) as sock:
        chunk = b"%x\r\n%s\r\n" % (CAP + 1, b" " * (CAP + 1))
        sock.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
            + chunk
            + b"0\r\n\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    # /chat answers in its own form, {"error": text}.
    status, body = request(server.chat_url, "GET", b"x" * (CAP + 1))
    assert status == 413
    assert isinstance(json.loads(body)["error"], str)
    log = server.log()
    assert [(e.get("endpoint", "/chat"), e["status"], e["accepted"]) for e in log] == [
        ("/v1/chat/completions", 413, False),
        ("/v1/chat/completions", 413, False),
        ("/v1/chat/completions", 413, False),
        ("/v1/chat/completions", 413, False),
        ("/chat", 413, False),
    ]
    assert settings_from_args(build_parser().parse_args([])).max_body == 1024 * 1024


def _closed_after(sock: socket.socket, trickle: bytes, limit: float) -> float | None:
    """Send `trickle` a byte every 50 ms; seconds until the server closed, or None."""
    start = time.monotonic()
    sock.settimeout(0.05)
    for i in range(int(limit / 0.05)):
        try:
            sock.sendall(trickle[i % len(trickle) : i % len(trickle) + 1])
            if sock.recv(1) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset: closed as well
            return time.monotonic() - start
    return None


def test_headers_trickled_too_slowly_are_cut_off(server: MockServer) -> None:
    trickle = b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 200
    with socket.create_connection(address(server)) as sock:
        closed = _closed_after(sock, trickle, limit=5.0)
    assert closed is not None
    assert HEADER_TIMEOUT - 0.05 < closed < 3.0
    # A kept-alive connection waiting for its next request has the same deadline.
    host, port = address(server)
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        closed = _closed_after(sock, trickle, limit=5.0)
    assert closed is not None
    assert closed < 3.0
    # Once the headers are in, an answer may take longer than the deadline (0.5 s
    # here), and a body under the cap is taken.
    status, _ = request(
        f"{server.url}/v1/chat/completions",
        "POST",
        json.dumps(completion()).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200


def test_reset_is_refused_from_another_origin_or_host(server: MockServer) -> None:
    assert request(server.chat_url)[0] == 200
    host, port = address(server)
    reset = f"{server.url}/reset"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://{host}:{port + 1}"},
        {"Host": f"evil.example:{port}"},  # a DNS-rebound name
    ):
        status, body = request(reset, "POST", b"", headers)
        assert status == 403, headers
        assert "own address" in json.loads(body)["error"]
    assert len(server.log()) == 1  # nothing was reset
    own = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
    assert request(reset, "POST", b"", own)[0] == 200
    assert server.log() == []


def test_methods_the_endpoint_does_not_take_are_not_accepted(server: MockServer) -> None:
    """Only the limiter accepts: a 405 is logged as not accepted, and a program
    that probes with HEAD or OPTIONS is not judged by it."""
    assert request(server.chat_url)[0] == 200
    for method in ("PUT", "POST", "HEAD", "OPTIONS"):
        assert (
            request(server.chat_url, method, b"" if method in ("PUT", "POST") else None)[0] == 405
        )
    assert request(server.chat_url)[0] == 200
    log = server.log()
    assert [(e["status"], e["accepted"]) for e in log] == [(200, True)] + [(405, False)] * 4 + [
        (200, True)
    ]
    _, _, attempts = attempts_from_log(server_entries(log))
    assert [a.status for a in attempts] == [200, 200]
    assert fault_reason(attempts) is None


def test_a_client_gone_mid_body_is_logged_without_a_traceback(server: MockServer) -> None:
    host, port = address(server)
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"model":'.encode()
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while True:
        log = server.log()
        if (log and log[0]["error"] is not None) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(e["status"], e["accepted"], e["error"]) for e in log] == [
        (None, False, "client disconnected before its body arrived")
    ]
    assert "Traceback" not in server.output()
    assert "ClientDisconnect" not in server.output()


def test_hardening_cost_refuses_more_connections_than_it_can_open() -> None:
    result = run_cli("bench.experiments.hardening_cost", "--connections", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --connections 0 must be between 1 and 10000"
    ]
