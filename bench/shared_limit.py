"""`python -m bench redis`: one limit across many processes, both failures and both fixes.

Two ways a single-process picture of rate limiting breaks, side by side:

- the server: slowapi with `memory://` storage under N uvicorn workers gives
  each worker its own counter, so the real limit is N times the rate; the
  fix is one counter in Redis (`--storage redis://`);
- the clients: P processes each with its own token bucket send P times the
  rate; the fix is one limit in Redis that all of them draw on
  (`shared_window`, a sliding log in a Lua script).

Every pairing of {memory://, Redis} x {P token buckets, P shared_window} runs
against a fresh N-worker server, and is judged from the server's own log:
the most requests it accepted in one window of its limit (by any worker),
the most that arrived in one, the 429s, and the makespan against the bound
that no client respecting the limit can beat (for the same latency draws).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from bench.results import RunLog, new_run_dir, write_json
from bench.runner import fault_reason
from bench.windows import bound_makespan, max_accepted_per_window, max_arrived_per_window
from clients.config import ClientConfig, ConfigError
from clients.infra.procs import label, run_procs
from clients.limiters.redis_log import DEFAULT_KEY, clear
from mock_server.process import MockServer, fetch_log, reset_server
from mock_server.redis_process import RedisServer, RedisUnavailable
from mock_server.settings import SettingsError, check_storage, check_time_scale, parse_limit

SCHEMA = "ratebench.shared-limit-run/1"
STORAGES = ("memory", "redis")
# The cautionary case (a bucket in each process) and the fix (one log in Redis).
CLIENTS = ("token_bucket", "shared_window")


class UsageError(Exception):
    """Bad input: one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class SharedLimitSettings:
    workers: int = 4
    procs: int = 4
    n: int = 40
    runs: int = 1
    time_scale: float = 1.0
    seed: int = 0
    rate: str = "2/second"
    latency: str = "2-5"
    redis: str | None = None  # None: start a redis-server of our own
    storages: tuple[str, ...] = STORAGES
    clients: tuple[str, ...] = CLIENTS


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
    settings: SharedLimitSettings, storage: str, client: str, run: int, base: str, redis_url: str
) -> dict[str, Any]:
    """One run of `client` in P processes against the server at `base`."""
    seed = settings.seed + run
    reset_server(base, seed=seed)
    asyncio.run(clear(redis_url, DEFAULT_KEY))
    rate = parse_limit(settings.rate)
    config = ClientConfig(
        url=f"{base}/chat",
        n=settings.n,
        rate=rate.per_second,
        capacity=rate.amount,
        time_scale=settings.time_scale,
        redis_url=redis_url,
    )
    result = run_procs(client, config, settings.procs)
    log = fetch_log(base)["entries"]
    scale = settings.time_scale
    window = rate.window * scale
    shared = storage == "redis"
    return {
        "schema": SCHEMA,
        "cell": cell_name(storage, client, settings),
        "storage": storage,
        "workers": settings.workers,
        "client": client,
        "procs": settings.procs,
        "run": run,
        "seed": seed,
        "time_scale": scale,
        "limit": rate.amount,
        "window": rate.window,
        "n": settings.n,
        "started": result.started,
        "completed": result.completed,
        "makespan": result.makespan / scale,
        "bound": bound_makespan(log, rate.amount, rate.window),
        "rejections": sum(1 for e in log if e["status"] == 429),
        "max_accepted_per_window": max_accepted_per_window(log, window, shared),
        "max_arrived_per_window": max_arrived_per_window(log, window, shared),
        "accepted_by_worker": _by_worker(log),
        "status": "ok" if fault_reason(result.attempts) is None else "failed",
        "reason": fault_reason(result.attempts),
        "settings": asdict(settings),
        "attempts": [a.to_dict() for a in result.attempts],
        "server_log": log,
    }


def _by_worker(log: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in log:
        if e["accepted"]:
            key = str(e.get("worker"))
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def run_all(settings: SharedLimitSettings, run_dir: Path) -> list[dict[str, Any]]:
    log = RunLog(run_dir / "runs.jsonl")
    records: list[dict[str, Any]] = []
    with redis_for(settings) as redis_url:
        for storage in settings.storages:
            where = ("--storage", redis_url) if storage == "redis" else ("--log", redis_url)
            args = ("--workers", str(settings.workers), *where)
            server = MockServer(
                rate=settings.rate,
                latency=settings.latency,
                seed=settings.seed,
                time_scale=settings.time_scale,
                extra_args=args,
            )
            with server:
                for run in range(settings.runs):
                    for client in settings.clients:
                        record = run_cell(settings, storage, client, run, server.url, redis_url)
                        log.append(record)
                        records.append(record)
                        print(run_line(record), file=sys.stderr, flush=True)
    return records


def run_line(r: dict[str, Any]) -> str:
    return (
        f"  {r['cell']:<34} run {r['run'] + 1}: accepted/window max {r['max_accepted_per_window']}"
        f" (limit {r['limit']}), arrived/window max {r['max_arrived_per_window']}, "
        f"{r['rejections']} x 429, {r['completed']}/{r['n']} done, makespan "
        f"{r['makespan']:.2f} s (bound {r['bound']:.2f} s)"
    )


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell: the worst window, total 429s, mean makespan and bound."""
    rows: list[dict[str, Any]] = []
    for cell in dict.fromkeys(r["cell"] for r in records):
        rs = [r for r in records if r["cell"] == cell]
        makespan = sum(r["makespan"] for r in rs) / len(rs)
        bound = sum(r["bound"] for r in rs) / len(rs)
        rows.append(
            {
                "cell": cell,
                "storage": rs[0]["storage"],
                "client": rs[0]["client"],
                "runs": len(rs),
                "limit": rs[0]["limit"],
                "max_accepted_per_window": max(r["max_accepted_per_window"] for r in rs),
                "max_arrived_per_window": max(r["max_arrived_per_window"] for r in rs),
                "rejections": sum(r["rejections"] for r in rs),
                "completed": sum(r["completed"] for r in rs),
                "n": sum(r["n"] for r in rs),
                "makespan": makespan,
                "bound": bound,
                "throughput_vs_bound": bound / makespan if makespan > 0 else 0.0,
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]], settings: SharedLimitSettings) -> str:
    head = (
        f"{'server / clients':<36} {'accepted/window':>15} {'arrived/window':>14} "
        f"{'429s':>5} {'done':>7} {'makespan':>9} {'bound':>7} {'of bound':>8}"
    )
    lines = [
        f"limit {settings.rate} (fixed window), {settings.workers} server workers, "
        f"{settings.procs} client processes, {settings.n} requests, "
        f"time scale {settings.time_scale:g}; figures in scenario seconds, "
        "windows counted from the server's log",
        head,
        "-" * len(head),
    ]
    for row in rows:
        flag = " !" if row["max_accepted_per_window"] > row["limit"] else ""
        lines.append(
            f"{row['cell']:<36} {row['max_accepted_per_window']:>9} (≤ {row['limit']}){flag:<2}"
            f"{row['max_arrived_per_window']:>14} {row['rejections']:>5} "
            f"{row['completed']:>3}/{row['n']:<3} {row['makespan']:>8.2f}s {row['bound']:>6.2f}s"
            f" {row['throughput_vs_bound']:>7.0%}"
        )
    return "\n".join(lines)


def build_report(rows: list[dict[str, Any]], settings: SharedLimitSettings) -> str:
    w, p = settings.workers, settings.procs
    table = [
        "| server storage | clients | max accepted in one window (limit) | max arrived "
        "in one window | 429s | done | makespan (s) | bound (s) | throughput of bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        table.append(
            f"| {r['storage']} ({w} workers) | {label(r['client'], p)} | "
            f"{r['max_accepted_per_window']} ({r['limit']}) | {r['max_arrived_per_window']} | "
            f"{r['rejections']} | {r['completed']}/{r['n']} | {r['makespan']:.2f} | "
            f"{r['bound']:.2f} | {r['throughput_vs_bound']:.0%} |"
        )
    return (
        "\n".join(
            [
                "# One limit across many processes",
                "",
                f"Limit {settings.rate} (slowapi's fixed window), {w} uvicorn workers behind one "
                f"socket, {p} client processes sharing a batch of {settings.n} requests, latency "
                f"{settings.latency} s, {settings.runs} run(s) per row, time scale "
                f"{settings.time_scale:g}. Durations in scenario seconds.",
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
                "its limit. `shared_window` processes take their turns from one sliding log in "
                "Redis and send no more than the limit.",
                "- *bound*: the makespan of the best schedule any client could have had for the "
                "latencies the server drew (the limit's worth of sends at the start of every "
                "window); *throughput of bound* is bound / makespan. A row above 100 % got there "
                "only by breaking the limit.",
            ]
        )
        + "\n"
    )


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench redis",
        description=(
            "Many server workers and many client processes under one limit: N uvicorn "
            "workers with memory:// storage (each its own counter) vs Redis storage, "
            "against P client processes each with its own token bucket vs P processes "
            "sharing one limit in Redis (shared_window). Judged from the server's log. "
            "Starts its own redis-server (must be installed) unless --redis is given."
        ),
    )
    parser.add_argument("--workers", type=int, default=4, help="server workers (default: 4)")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes (default: 4)")
    parser.add_argument(
        "-n",
        type=int,
        default=40,
        help="requests in the batch, split over the processes (default: 40)",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per pairing (default: 1)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every duration; with Redis the window must stay "
        "whole milliseconds (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="latency seed of run 0 (default: 0)")
    parser.add_argument("--latency", default="2-5", help="server latency, seconds (default: 2-5)")
    parser.add_argument(
        "--redis", default=None, metavar="URL", help="use this Redis instead of starting one"
    )
    parser.add_argument("--out", default="results", help="results directory (default: results)")
    parser.add_argument("--name", default=None, help="run directory name (default: timestamp)")
    parser.error = lambda message: _fail(f"{message} (see --help)")  # type: ignore[method-assign]
    args = parser.parse_args(argv)
    try:
        if not 2 <= args.workers <= 16:
            raise UsageError(f"--workers {args.workers} must be between 2 and 16")
        if not 1 <= args.client_procs <= 16:
            raise UsageError(f"--client-procs {args.client_procs} must be between 1 and 16")
        if not 1 <= args.runs <= 100:
            raise UsageError(f"--runs {args.runs} must be between 1 and 100")
        if args.n < args.client_procs:
            raise UsageError(
                f"-n {args.n} gives some of the {args.client_procs} processes nothing to send"
            )
        check_time_scale(args.time_scale)
        check_storage("redis://", parse_limit("2/second"), args.time_scale)
        settings = SharedLimitSettings(
            workers=args.workers,
            procs=args.client_procs,
            n=args.n,
            runs=args.runs,
            time_scale=args.time_scale,
            seed=args.seed,
            latency=args.latency,
            redis=args.redis,
        )
        run_dir = new_run_dir(Path(args.out), args.name)
        print(
            f"ratebench redis: {len(STORAGES) * len(CLIENTS)} pairings × {settings.runs} "
            f"run(s) → {run_dir}",
            file=sys.stderr,
            flush=True,
        )
        began = time.monotonic()
        records = run_all(settings, run_dir)
    except (UsageError, SettingsError, ConfigError, RedisUnavailable) as exc:
        _fail(str(exc))
    rows = summarize(records)
    write_json(
        run_dir / "summary.json",
        {"schema": "ratebench.shared-limit-summary/1", "settings": asdict(settings), "rows": rows},
    )
    (run_dir / "report.md").write_text(build_report(rows, settings))
    print(format_table(rows, settings))
    print(f"\n{time.monotonic() - began:.0f} s; results: {run_dir}")
    return 0


__all__ = ["main"]
