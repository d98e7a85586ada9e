"""What the server's log and its streams cost it: `python -m bench.experiments.log_cost`.

Two measurements against real server processes on this machine, printed as
one line each:

1. The log. N `GET /chat` requests (the write-up's 2/second, no latency, so
   almost all are 429s), then `GET /log` read whole while another process asks
   `/health` every 5 ms. Prints the server's RSS before and after the N
   requests (and per request), the size of `/log` and how long it took, the
   slowest `/health` answer meanwhile, and the same for the log read page by
   page (`GET /log?since=N`) where the server offers it.
2. A stream. One `stream: true` completion of `max_tokens` tokens (no time
   to the first token, none per token), read to its end; prints the server's
   RSS before and its peak (VmHWM) after.

It needs nothing of the server but its HTTP routes, so the same file measures
an older checkout too: copy it and `bench/load.py` (whose `hammer` sends the
requests) into that checkout's `bench/` and run it there.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from bench.experiments.load import hammer
from mock_server.processes.server import MockServer
from mock_server.vocabulary import OneLineParser, fail

MB = 1024 * 1024


def memory(pid: int) -> dict[str, int]:
    """The process's VmRSS and VmHWM (peak RSS), bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def server_pid(server: MockServer) -> int:
    assert server.process is not None
    return server.process.pid


def poll_health(url: str, stop: Any, worst: Synchronized[float]) -> None:
    """In its own process (so that the reader's parsing cannot delay it): ask
    `/health` every 5 ms until `stop` is set; `worst` is the slowest answer, s."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    while not stop.is_set():
        start = time.monotonic()
        conn.request("GET", "/health")
        conn.getresponse().read()
        worst.value = max(worst.value, time.monotonic() - start)
        time.sleep(0.005)
    conn.close()


def timed_read(url: str, read: Any) -> tuple[Any, float, float]:
    """`read()` while `/health` is polled: (its result, seconds, slowest /health seconds)."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    worst = context.Value("d", 0.0)
    poller = context.Process(target=poll_health, args=(url, stop, worst))
    poller.start()
    time.sleep(0.2)  # the poller's first answers, before the read
    start = time.monotonic()
    result = read()
    elapsed = time.monotonic() - start
    time.sleep(0.05)
    stop.set()
    poller.join()
    return result, elapsed, float(worst.value)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as resp:
        body: bytes = resp.read()
    return body


def read_pages(base: str) -> tuple[int, int, int]:
    """The whole log through its cursor: (entries, bytes, pages)."""
    since, count, size, pages = 0, 0, 0, 0
    while True:
        body = get(f"{base}/log?since={since}")
        page = json.loads(body)
        size, pages = size + len(body), pages + 1
        count += len(page["entries"])
        if not page["entries"]:
            return count, size, pages
        since = page["next"]


def measure_log(requests: int, concurrency: int) -> dict[str, Any]:
    with MockServer(latency="0", seed=0) as server:
        pid = server_pid(server)
        get(f"{server.url}/log")  # the route's first call, before the baseline
        before = memory(pid)["VmRSS"]
        start = time.monotonic()
        results, _, _ = asyncio.run(hammer(server.chat_url, requests, concurrency, 120.0))
        statuses = dict(Counter(status for _, _, status in results))
        sent = time.monotonic() - start
        after = memory(pid)["VmRSS"]
        body, elapsed, worst = timed_read(server.url, lambda: get(f"{server.url}/log"))
        entries = len(json.loads(body)["entries"])
        figures: dict[str, Any] = {
            "requests": requests,
            "statuses": statuses,
            "send_seconds": round(sent, 1),
            "rss_before_mb": round(before / MB, 1),
            "rss_after_mb": round(after / MB, 1),
            "bytes_per_request": round((after - before) / requests),
            "log_entries": entries,
            "log_mb": round(len(body) / MB, 2),
            "log_seconds": round(elapsed, 3),
            "health_max_ms_during_log": round(worst * 1000, 1),
        }
        try:
            get(f"{server.url}/log?since={entries}")
            paged = json.loads(get(f"{server.url}/log?since=0")).get("next") is not None
        except urllib.error.URLError:
            paged = False
        if paged:
            (count, size, pages), elapsed, worst = timed_read(
                server.url, lambda: read_pages(server.url)
            )
            figures |= {
                "paged_entries": count,
                "paged_pages": pages,
                "paged_mb": round(size / MB, 2),
                "paged_seconds": round(elapsed, 3),
                "health_max_ms_during_paged": round(worst * 1000, 1),
            }
        figures["rss_peak_mb"] = round(memory(pid)["VmHWM"] / MB, 1)
    return figures


def measure_stream(max_tokens: int, choices: int) -> dict[str, Any]:
    # --max-output-tokens: far above a real model's maximum output, on purpose.
    extra = (
        *("--rpm", "1000", "--tpm", "1000000000", "--max-output-tokens", str(max_tokens)),
        *("--ttft", "0-0", "--token-time", "0"),
    )
    with MockServer(latency="0", seed=0, extra_args=extra) as server:
        pid = server_pid(server)
        before = memory(pid)["VmRSS"]
        body = json.dumps(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": max_tokens,
                "n": choices,
                "stream": True,
            }
        ).encode()
        request = urllib.request.Request(
            f"{server.url}/v1/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
        )
        start = time.monotonic()
        size = 0
        with urllib.request.urlopen(request, timeout=600) as resp:
            while chunk := resp.read(1 << 16):
                size += len(chunk)
        elapsed = time.monotonic() - start
        peak = memory(pid)["VmHWM"]
        log = json.loads(get(f"{server.url}/log"))["entries"]
    return {
        "max_tokens": max_tokens,
        "n": choices,
        "completion_tokens": log[-1].get("completion_tokens"),
        "stream_mb": round(size / MB, 1),
        "stream_seconds": round(elapsed, 2),
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m bench.experiments.log_cost",
        description="The server's RSS per logged request, GET /log's size and time and the "
        "slowest /health meanwhile; a long stream's peak RSS. Starts its own servers.",
    )
    parser.add_argument(
        "--requests", type=int, default=100_000, help="/chat requests logged (default: 100000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=20, help="requests kept in flight (default: 20)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=200_000, help="the stream's max_tokens (default: 200000)"
    )
    parser.add_argument(
        "--only", choices=("log", "stream"), default=None, help="one measurement only"
    )
    args = parser.parse_args(argv)
    for flag, value, high in (
        ("--requests", args.requests, 10_000_000),
        ("--concurrency", args.concurrency, 1_000),
        ("--max-tokens", args.max_tokens, 10_000_000),
    ):
        if not 1 <= value <= high:
            fail(f"{flag} {value} must be between 1 and {high}")
    if args.only in (None, "log"):
        print("log:", json.dumps(measure_log(args.requests, args.concurrency)), flush=True)
    if args.only in (None, "stream"):
        for choices in (1, 4):
            print("stream:", json.dumps(measure_stream(args.max_tokens, choices)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
