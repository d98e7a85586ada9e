"""What hostile requests cost the server: `python -m bench.experiments.hardening_cost`.

Three measurements against one real server process (the write-up's settings),
printed as one line each:

1. A 10 MB prompt to `/v1/chat/completions`: the status it gets.
2. 200,000 messages (about 7 MB) in one body, while another process asks
   `/health` every 10 ms: the status, and the slowest `/health` meanwhile
   (parsing a body that size blocks the event loop unless it is refused first).
3. 2,000 connections that each send a request line and then one header byte a
   second: how many the server still holds open after 10 s and after 20 s.

It needs nothing of the server but its HTTP routes, so the same file measures
an older checkout too: copy it into that checkout's `bench/` and run it there.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from bench.experiments.log_cost import timed_read
from mock_server.processes.server import MockServer
from mock_server.vocabulary import OneLineParser, fail


def post(url: str, body: bytes) -> int | str:
    """POST `body`: the status, or what went wrong on the connection."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


def completion(messages: list[dict[str, str]]) -> bytes:
    return json.dumps({"model": "m", "messages": messages, "max_tokens": 1}).encode()


def still_open(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the server has not closed (no EOF, no reset)."""
    alive = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            alive += sock.recv(1) != b""
        except BlockingIOError:  # nothing to read: still open
            alive += 1
        except OSError:
            pass
        sock.setblocking(True)
    return alive


def trickle(host: str, port: int, connections: int, seconds: int) -> dict[int, int]:
    """`connections` sockets sending a header a byte a second; {second: still open}."""
    sockets = []
    for _ in range(connections):
        sock = socket.create_connection((host, port))
        sock.sendall(b"GET /chat HTTP/1.1\r\nX-Slow: ")
        sockets.append(sock)
    open_at: dict[int, int] = {}
    for second in range(1, seconds + 1):
        for sock in sockets:
            with contextlib.suppress(OSError):  # the server closed it
                sock.sendall(b"a")
        time.sleep(1)
        if second % 10 == 0:
            open_at[second] = still_open(sockets)
    for sock in sockets:
        sock.close()
    return open_at


def measure(connections: int) -> list[tuple[str, dict[str, Any]]]:
    with MockServer(seed=0) as server:
        url = f"{server.url}/v1/chat/completions"
        big = completion([{"role": "user", "content": "x" * 10_000_000}])
        lines: list[tuple[str, dict[str, Any]]] = [
            ("prompt", {"bytes": len(big), "status": post(url, big)})
        ]
        many = completion([{"role": "user", "content": "x"}] * 200_000)
        status, _, worst = timed_read(server.url, lambda: post(url, many))
        lines.append(
            (
                "messages",
                {
                    "messages": 200_000,
                    "bytes": len(many),
                    "status": status,
                    "health_max_ms": round(worst * 1000, 1),
                },
            )
        )
        host, port = server.url.removeprefix("http://").split(":")
        open_at = trickle(host, int(port), connections, 20)
        lines.append(
            (
                "trickle",
                {"connections": connections} | {f"open_after_{s}s": n for s, n in open_at.items()},
            )
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m bench.experiments.hardening_cost",
        description="What a 10 MB prompt, 200,000 messages in one body and connections "
        "trickling their headers do to the server. Starts its own server.",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=2_000,
        help="connections trickling their headers (default: 2000)",
    )
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The server's sockets and ours, with room for its own files.
    needed = 2 * args.connections + 256
    if not 1 <= args.connections <= 10_000:
        fail(f"--connections {args.connections} must be between 1 and 10000")
    if needed > hard:
        fail(
            f"--connections {args.connections} needs {needed} open files and this shell "
            f"allows {hard}: pass fewer"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    for name, figures in measure(args.connections):
        print(f"{name}:", json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
