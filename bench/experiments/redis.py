"""`python -m bench redis`: one limit across many processes, both failures and both fixes.

Two ways a single-process picture of rate limiting breaks, side by side:

- the server: slowapi with `memory://` storage under N uvicorn workers gives
  each worker its own counter, so the real limit is N times the rate; the
  fix is one counter in Redis (`--storage redis://`);
- the clients: P processes each with its own token bucket send P times the
  rate; the fix is one limit in Redis that all of them draw on (the client
  whose policy is a shared sliding log, a Lua script in Redis).

Every pairing of {memory://, Redis} x {P token buckets, P shared sliding logs}
runs against a fresh N-worker server, and is judged from the server's own log:
the most requests it accepted in one window of its limit (by any worker),
the most that arrived in one, the 429s, and the makespan against the bound
that no client respecting the limit can beat (for the same latency draws).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import clients
from bench.endpoints.registry import client_config, server_kwargs
from bench.records.results import (
    Machine,
    RunLog,
    ServerEntry,
    SharedLimitRun,
    server_entries,
)
from bench.records.scenario import Scenario
from bench.records.windows import bound_makespan, max_accepted_per_window, max_arrived_per_window
from bench.running.plan import fault_reason
from clients.infra.procs import label, run_procs
from clients.limiters.redis_log import DEFAULT_KEY, clear
from mock_server.processes.redis_server import RedisServer
from mock_server.processes.server import MockServer, fetch_log, reset_server

STORAGES = ("memory", "redis")


def default_clients() -> tuple[str, ...]:
    """The cautionary case and the fix, picked by spec: the asyncio token-bucket
    client (a bucket in each process) and the client whose policy is a sliding
    log shared through Redis."""

    def first(concurrency: str | None, policy: str) -> str:
        return next(
            s.name
            for s in clients.specs()
            if s.policy == policy and concurrency in (None, s.concurrency)
        )

    return (first("asyncio", "token bucket"), first(None, "shared sliding log"))


@dataclass(frozen=True, slots=True)
class SharedLimitSettings:
    """`scenario`: the limit, latency, batch (split over the processes), time
    scale and seed; `workers` server workers, `procs` client processes,
    `runs` per pairing; `redis`: a Redis to use (None: start one)."""

    scenario: Scenario = field(default_factory=lambda: Scenario(n=40))
    workers: int = 4
    procs: int = 4
    runs: int = 1
    redis: str | None = None  # None: start a redis-server of our own
    storages: tuple[str, ...] = STORAGES
    clients: tuple[str, ...] = field(default_factory=default_clients)


def cell_name(storage: str, client: str, settings: SharedLimitSettings) -> str:
    return f"{storage} x{settings.workers} / {label(client, settings.procs)}"


@contextlib.contextmanager
def redis_for(settings: SharedLimitSettings) -> Iterator[str]:
    if settings.redis is not None:
        from clients.limiters.redis_log import check_redis

        check_redis(settings.redis)
        yield settings.redis
        return
    with RedisServer() as server:
        yield server.url


def run_cell(
    settings: SharedLimitSettings,
    storage: str,
    client: str,
    run: int,
    base: str,
    redis_url: str,
    machine: Machine,
) -> SharedLimitRun:
    """One run of `client` in P processes against the server at `base`."""
    scenario = settings.scenario
    seed = scenario.seed + run
    reset_server(base, seed=seed)
    asyncio.run(clear(redis_url, DEFAULT_KEY))
    config = replace(client_config(scenario, f"{base}/chat"), redis_url=redis_url)
    result = run_procs(client, config, settings.procs)
    log = server_entries(fetch_log(base)["entries"])
    limit = scenario.limit
    window = limit.window * scenario.time_scale
    shared = storage == "redis"
    reason = fault_reason(result.attempts)
    return SharedLimitRun(
        cell=cell_name(storage, client, settings),
        storage=storage,
        workers=settings.workers,
        client=client,
        procs=settings.procs,
        run=run,
        seed=seed,
        scenario=scenario,
        machine=machine,
        started=result.started,
        makespan=scenario.seconds(result.makespan),
        bound=bound_makespan(log, limit.count, limit.window),
        completed=result.completed,
        max_accepted_per_window=max_accepted_per_window(log, window, shared),
        max_arrived_per_window=max_arrived_per_window(log, window, shared),
        accepted_by_worker=_by_worker(log),
        attempts=result.attempts,
        server_log=log,
        status="ok" if reason is None else "failed",
        reason=reason,
    )


def _by_worker(log: Sequence[ServerEntry]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for e in log:
        if e.accepted:
            key = str(e.worker)
            counts[key] = counts.get(key, 0) + 1
    return tuple(sorted(counts.items()))


def run_all(
    settings: SharedLimitSettings,
    run_dir: Path,
    on_done: Callable[[SharedLimitRun], None] = lambda record: None,
) -> list[SharedLimitRun]:
    log = RunLog(run_dir / "runs.jsonl", latest=True)
    here = Machine.here()
    records: list[SharedLimitRun] = []
    server_args = server_kwargs(settings.scenario)
    with redis_for(settings) as redis_url:
        for storage in settings.storages:
            where = ("--storage", redis_url) if storage == "redis" else ("--log", redis_url)
            server = MockServer(
                **{**server_args, "extra_args": ("--workers", str(settings.workers), *where)}
            )
            with server:
                for run in range(settings.runs):
                    for client in settings.clients:
                        record = run_cell(
                            settings, storage, client, run, server.url, redis_url, here
                        )
                        log.append(record)
                        records.append(record)
                        on_done(record)
    return records


def run_line(r: SharedLimitRun) -> str:
    limit = r.scenario.limit.count
    return (
        f"  {r.cell:<34} run {r.run + 1}: accepted/window max {r.max_accepted_per_window}"
        f" (limit {limit}), arrived/window max {r.max_arrived_per_window}, "
        f"{r.rejections} x 429, {r.completed}/{r.scenario.n} done, makespan "
        f"{r.makespan:.2f} s (bound {r.bound:.2f} s)"
    )


@dataclass(frozen=True, slots=True)
class CellRow:
    """One pairing over its runs: the worst window, total 429s, mean makespan and bound."""

    cell: str
    storage: str
    client: str
    runs: int
    limit: int
    max_accepted_per_window: int
    max_arrived_per_window: int
    rejections: int
    completed: int
    n: int
    makespan: float
    bound: float

    @property
    def throughput_vs_bound(self) -> float:
        return self.bound / self.makespan if self.makespan > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "cell": self.cell,
            "storage": self.storage,
            "client": self.client,
            "runs": self.runs,
            "limit": self.limit,
            "max_accepted_per_window": self.max_accepted_per_window,
            "max_arrived_per_window": self.max_arrived_per_window,
            "rejections": self.rejections,
            "completed": self.completed,
            "n": self.n,
            "makespan": self.makespan,
            "bound": self.bound,
            "throughput_vs_bound": self.throughput_vs_bound,
        }


def summarize(records: Sequence[SharedLimitRun]) -> list[CellRow]:
    """One row per pairing, in the order they ran."""
    rows: list[CellRow] = []
    for cell in dict.fromkeys(r.cell for r in records):
        rs = [r for r in records if r.cell == cell]
        rows.append(
            CellRow(
                cell=cell,
                storage=rs[0].storage,
                client=rs[0].client,
                runs=len(rs),
                limit=rs[0].scenario.limit.count,
                max_accepted_per_window=max(r.max_accepted_per_window for r in rs),
                max_arrived_per_window=max(r.max_arrived_per_window for r in rs),
                rejections=sum(r.rejections for r in rs),
                completed=sum(r.completed for r in rs),
                n=sum(r.scenario.n for r in rs),
                makespan=sum(r.makespan for r in rs) / len(rs),
                bound=sum(r.bound for r in rs) / len(rs),
            )
        )
    return rows


def format_table(rows: Sequence[CellRow], settings: SharedLimitSettings) -> str:
    s = settings.scenario
    head = (
        f"{'server / clients':<36} {'accepted/window':>15} {'arrived/window':>14} "
        f"{'429s':>5} {'done':>7} {'makespan':>9} {'bound':>7} {'of bound':>8}"
    )
    lines = [
        f"limit {s.limit} (fixed window), {settings.workers} server workers, "
        f"{settings.procs} client processes, {s.n} requests, "
        f"time scale {s.time_scale:g}; figures in scenario seconds, "
        "windows counted from the server's log",
        head,
        "-" * len(head),
    ]
    for row in rows:
        flag = " !" if row.max_accepted_per_window > row.limit else ""
        lines.append(
            f"{row.cell:<36} {row.max_accepted_per_window:>9} (≤ {row.limit}){flag:<2}"
            f"{row.max_arrived_per_window:>14} {row.rejections:>5} "
            f"{row.completed:>3}/{row.n:<3} {row.makespan:>8.2f}s {row.bound:>6.2f}s"
            f" {row.throughput_vs_bound:>7.0%}"
        )
    return "\n".join(lines)


def build_report(rows: Sequence[CellRow], settings: SharedLimitSettings) -> str:
    s = settings.scenario
    w, p = settings.workers, settings.procs
    shared = settings.clients[-1]
    table = [
        "| server storage | clients | max accepted in one window (limit) | max arrived "
        "in one window | 429s | done | makespan (s) | bound (s) | throughput of bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        table.append(
            f"| {r.storage} ({w} workers) | {label(r.client, p)} | "
            f"{r.max_accepted_per_window} ({r.limit}) | {r.max_arrived_per_window} | "
            f"{r.rejections} | {r.completed}/{r.n} | {r.makespan:.2f} | "
            f"{r.bound:.2f} | {r.throughput_vs_bound:.0%} |"
        )
    return (
        "\n".join(
            [
                "# One limit across many processes",
                "",
                f"Limit {s.limit} (slowapi's fixed window), {w} uvicorn workers behind one "
                f"socket, {p} client processes sharing a batch of {s.n} requests, latency "
                f"{s.latency} s, {settings.runs} run(s) per row, time scale "
                f"{s.time_scale:g}. Durations in scenario seconds.",
                "",
                *table,
                "",
                "How to read it:",
                "",
                "- *max accepted in one window*: for every window the server's limiter opened, the "
                "requests accepted while it was open by any worker, from the server's own log. "
                f"With `memory://` each of the {w} workers counts alone, so the server accepts "
                f"up to {w} times the limit: the server-side pitfall. With Redis all workers count "
                "in one place and the limit holds.",
                "- *max arrived in one window*: what the clients sent into one window. Each "
                f"token-bucket process sends at the full rate, so {p} of them send {p} times it: "
                "the client-side pitfall, paid in 429s and retry sleeps once the server enforces "
                f"its limit. `{shared}` processes take their turns from one sliding log in "
                "Redis and send no more than the limit.",
                "- *bound*: the makespan of the best schedule any client could have had for the "
                "latencies the server drew (the limit's worth of sends at the start of every "
                "window); *throughput of bound* is bound / makespan. A row above 100 % got there "
                "only by breaking the limit.",
            ]
        )
        + "\n"
    )


__all__ = ["SharedLimitSettings", "run_all", "summarize"]
