"""`python -m bench load`: how much the mock server itself adds, under load.

Three measurements against a real server process on this machine:

1. Added latency. A limit too high to bite and a fixed drawn latency; C
   requests kept in flight. For each request, what the server added over the
   latency it drew: `left - arrival - latency` from its own log, and what a
   client saw: `(finish - send) - latency`. The second includes the load
   generator, which shares the machine's cores with the server.
2. Rejections per second. A limit of 1 per hour, so that everything after the
   first request is a 429; C in flight; how many 429s per second the server
   answers, and a check from its log that it still accepted only one.
3. The clients' own cost. The CPU per request of a thread client and an
   asyncio client, each beside its HTTP library sending the same batch alone
   (`bench.experiments.bare`), so that their ratio is what the harness adds.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

import clients
from bench.experiments import bare
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


@dataclass(frozen=True, slots=True)
class Overhead:
    """One client's CPU seconds per request beside its bare library's, one of
    each per round; `bare` says what the bare loop was."""

    client: str
    bare: str
    client_cpu: list[float]
    bare_cpu: list[float]

    @property
    def ratio(self) -> float:
        """The client's median over the bare library's."""
        return statistics.median(self.client_cpu) / statistics.median(self.bare_cpu)


def client_overhead(requests: int, rounds: int = 3, pool: int = 0) -> list[Overhead]:
    """CPU seconds per request that a client spends in its own process, threads
    vs asyncio, each beside its bare library sending the same batch
    (`bench.experiments.bare`): `requests` requests against a server with no
    limit in reach and no latency; the thread pool on 100 threads, asyncio
    all at once on a pool of `pool` connections (0: no limit, the clients'
    own default).

    Each round measures every client and its bare loop once, in turn, the
    order flipped every round so that neither always runs on the other's
    leftovers; each pair is first run on 10 requests unmeasured, so that
    neither figure carries a library's first-use costs (imports, its SSL
    context).
    """
    from clients import run_client
    from clients.config import ClientConfig

    names = overhead_clients()
    client_cpu: dict[str, list[float]] = {name: [] for name in names}
    bare_cpu: dict[str, list[float]] = {name: [] for name in names}
    labels: dict[str, str] = {}
    with MockServer(rate="1000000/second", latency="0", seed=0) as server:

        def batches(name: str, n: int) -> tuple[Callable[[], None], Callable[[], None]]:
            """The client's batch of `n`, and its bare library's."""
            config = ClientConfig(url=server.chat_url, n=n, workers=100, retry="none", pool=pool)
            labels[name], bare_batch = bare.batch_for(clients.spec(name), config)

            def client_batch() -> None:
                run = run_client(name, config)
                if run.completed != n:
                    raise RuntimeError(f"{name} completed {run.completed} of {n}")

            return client_batch, bare_batch

        def cpu(batch: Callable[[], None], n: int) -> float:
            """CPU seconds per request of `batch`, which sends `n`."""
            server.reset()
            before = time.process_time()
            batch()
            return (time.process_time() - before) / n

        for name in names:
            for batch in batches(name, 10):
                cpu(batch, 10)
        for round_ in range(rounds):
            for name in names:
                client_batch, bare_batch = batches(name, requests)
                if round_ % 2 == 0:
                    bare_cpu[name].append(cpu(bare_batch, requests))
                client_cpu[name].append(cpu(client_batch, requests))
                if round_ % 2 == 1:
                    bare_cpu[name].append(cpu(bare_batch, requests))
    return [Overhead(name, labels[name], client_cpu[name], bare_cpu[name]) for name in names]


def run_load(
    requests: int, concurrency: int, latency: float, rounds: int = 3, pool: int = 0
) -> dict[str, Any]:
    """The three measurements; prints as it goes and returns the figures.
    `rounds` and `pool` are the client overhead's (`client_overhead`)."""
    lat = f"{latency:g}"
    print(
        f"1/3 added latency: {requests} requests, {concurrency} in flight, "
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
        f"2/3 rejections: {requests} requests, {concurrency} in flight, limit 1/hour ...",
        flush=True,
    )
    rejected = measure("1/hour", lat, requests, concurrency)
    n429 = rejected.statuses.get(429, 0)
    print(
        f"    done in {rejected.elapsed:.1f} s: {n429 / rejected.elapsed:.0f} rejections per "
        f"second; the server's log shows {rejected.accepted} accepted (limit 1)"
    )
    print(
        f"3/3 client overhead: {requests} requests through each client and through its "
        f"library alone, no limit, no latency; median of {rounds} rounds ...",
        flush=True,
    )
    overhead = client_overhead(requests, rounds, pool)
    for o in overhead:
        print(
            f"    {o.client:<13} {statistics.median(o.client_cpu) * 1e6:5.0f} µs of CPU per "
            f"request, {statistics.median(o.bare_cpu) * 1e6:5.0f} µs with {o.bare}: "
            f"{o.ratio:.2f} ×"
        )
    return {
        "client_cpu_seconds_per_request": {
            o.client: statistics.median(o.client_cpu) for o in overhead
        },
        "bare_cpu_seconds_per_request": {o.client: statistics.median(o.bare_cpu) for o in overhead},
        "client_over_bare": {o.client: o.ratio for o in overhead},
        "bare_loops": {o.client: o.bare for o in overhead},
        "overhead_rounds": rounds,
        "overhead_pool": pool,
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
