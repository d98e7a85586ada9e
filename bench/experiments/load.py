"""`python -m bench load`: how much the mock server itself adds, under load.

Two measurements against a real server process on this machine:

1. Added latency. A limit too high to bite and a fixed drawn latency; C
   requests kept in flight. For each request, what the server added over the
   latency it drew: `left - arrival - latency` from its own log, and what a
   client saw: `(finish - send) - latency`. The second includes the load
   generator, which shares the machine's cores with the server.
2. Rejections per second. A limit of 1 per hour, so that everything after the
   first request is a 429; C in flight; how many 429s per second the server
   answers, and a check from its log that it still accepted only one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

import clients
from bench.records.results import server_entries
from bench.records.stats import percentile as _percentile
from mock_server.processes.server import MockServer


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    concurrency: int
    elapsed: float  # wall seconds, first send to last response
    statuses: dict[int, int]
    client_added_ms: list[float]
    server_added_ms: list[float]
    accepted: int
    errors: int


def percentile(values: list[float], q: int) -> float:
    """`bench.records.stats.percentile`, or NaN when a measurement got no answer at all."""
    return _percentile(values, q) if values else float("nan")


async def hammer(
    url: str, requests: int, concurrency: int, timeout: float
) -> tuple[list[tuple[float, float, int]], int, float]:
    """Send `requests` GETs keeping `concurrency` in flight; (send, finish, status) each."""
    results: list[tuple[float, float, int]] = []
    errors = 0
    queue = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:

        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                sent = time.monotonic()
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        results.append((sent, time.monotonic(), resp.status))
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
    return results, errors, elapsed


def measure(
    rate: str, latency: str, requests: int, concurrency: int, timeout: float = 120.0
) -> LoadResult:
    with MockServer(rate=rate, latency=latency, seed=0) as server:
        results, errors, elapsed = asyncio.run(
            hammer(server.chat_url, requests, concurrency, timeout)
        )
        entries = server_entries(server.log())
    statuses: dict[int, int] = {}
    for _, _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    drawn = float(latency)
    client_added = [
        (finish - sent - drawn) * 1000 for sent, finish, status in results if status == 200
    ]
    server_added = [
        (e.left - e.arrival - e.latency) * 1000
        for e in entries
        if e.accepted and e.left is not None and e.latency is not None
    ]
    return LoadResult(
        requests,
        concurrency,
        elapsed,
        statuses,
        client_added,
        server_added,
        accepted=sum(1 for e in entries if e.accepted),
        errors=errors,
    )


def overhead_clients() -> tuple[str, str]:
    """Threads + requests vs asyncio + aiohttp, picked by spec: the thread pool
    (at most N in flight, here 100) and asyncio with no limit."""
    specs = clients.specs()
    pool = next(s.name for s in specs if (s.concurrency, s.caps_in_flight) == ("threads", True))
    gather = next(s.name for s in specs if (s.concurrency, s.policy) == ("asyncio", "no limit"))
    return pool, gather


def client_overhead(requests: int) -> dict[str, float]:
    """CPU seconds per request that a client spends in its own process, threads
    vs asyncio: 1000 requests each against a server with no limit in reach and
    no latency, 100 at a time (aiohttp's default connection pool size, and a
    pool of 100 threads)."""
    from clients import run_client
    from clients.config import ClientConfig

    cpu: dict[str, float] = {}
    with MockServer(rate="1000000/second", latency="0", seed=0) as server:
        for name in overhead_clients():
            server.reset()
            config = ClientConfig(url=server.chat_url, n=requests, workers=100, retry="none")
            before = time.process_time()
            run = run_client(name, config)
            spent = time.process_time() - before
            if run.completed != requests:
                raise RuntimeError(f"{name} completed {run.completed} of {requests}")
            cpu[name] = spent / requests
    return cpu


def run_load(requests: int, concurrency: int, latency: float) -> dict[str, Any]:
    """Both measurements; prints as it goes and returns the figures."""
    lat = f"{latency:g}"
    print(
        f"1/2 added latency: {requests} requests, {concurrency} in flight, "
        f"latency {lat} s each, limit out of reach ...",
        flush=True,
    )
    added = measure("1000000/second", lat, requests, concurrency)
    print(f"    done in {added.elapsed:.1f} s: {added.statuses} ({added.errors} connection errors)")
    print(
        f"    server adds over the drawn latency: p50 {percentile(added.server_added_ms, 50):.1f}"
        f" ms, p99 {percentile(added.server_added_ms, 99):.1f} ms (its own log)"
    )
    print(
        f"    a client sees on top of it:         p50 {percentile(added.client_added_ms, 50):.1f}"
        f" ms, p99 {percentile(added.client_added_ms, 99):.1f} ms (load generator included)"
    )
    print(
        f"2/2 rejections: {requests} requests, {concurrency} in flight, limit 1/hour ...",
        flush=True,
    )
    rejected = measure("1/hour", lat, requests, concurrency)
    n429 = rejected.statuses.get(429, 0)
    print(
        f"    done in {rejected.elapsed:.1f} s: {n429 / rejected.elapsed:.0f} rejections per "
        f"second; the server's log shows {rejected.accepted} accepted (limit 1)"
    )
    print(
        f"3/3 client overhead: {requests} requests through each client, 100 at a time, "
        "no limit, no latency ...",
        flush=True,
    )
    overhead = client_overhead(requests)
    for name, seconds in overhead.items():
        print(f"    {name:<13} {seconds * 1e6:7.0f} µs of CPU per request (client process)")
    return {
        "client_cpu_seconds_per_request": overhead,
        "requests": requests,
        "concurrency": concurrency,
        "latency": latency,
        "server_added_ms": {
            "p50": percentile(added.server_added_ms, 50),
            "p99": percentile(added.server_added_ms, 99),
        },
        "client_added_ms": {
            "p50": percentile(added.client_added_ms, 50),
            "p99": percentile(added.client_added_ms, 99),
        },
        "added_errors": added.errors,
        "rejections_per_second": n429 / rejected.elapsed,
        "accepted_under_1_per_hour": rejected.accepted,
    }
