"""`python -m bench redis`: many server workers and many client processes under one limit."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

from bench.endpoints.registry import add_scenario_arguments, scenario_from_args
from bench.experiments.redis import (
    STORAGES,
    SharedLimitSettings,
    build_report,
    default_clients,
    format_table,
    run_all,
    run_line,
    summarize,
)
from bench.records.results import new_run_dir, write_json
from mock_server.processes.redis_server import RedisUnavailable
from mock_server.settings import Rate, check_storage
from mock_server.vocabulary import OneLineParser, UsageError


def main(argv: list[str]) -> int:
    shared = default_clients()[-1]
    parser = OneLineParser(
        prog="python -m bench redis",
        description=(
            "Many server workers and many client processes under one limit: N uvicorn "
            "workers with memory:// storage (each its own counter) vs Redis storage, "
            "against P client processes each with its own token bucket vs P processes "
            f"sharing one limit in Redis ({shared}). Judged from the server's log. "
            "Starts its own redis-server (must be installed) unless --redis is given."
        ),
    )
    parser.add_argument("--workers", type=int, default=4, help="server workers (default: 4)")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes (default: 4)")
    parser.add_argument("--runs", type=int, default=1, help="runs per pairing (default: 1)")
    add_scenario_arguments(
        parser,
        ("n", "time_scale", "seed", "latency"),
        defaults={"n": 40},
        helps={
            "n": "requests in the batch, split over the processes (default: {default})",
            "time_scale": "multiplies every duration; with Redis the window must stay "
            "whole milliseconds (default: {default})",
        },
    )
    parser.add_argument(
        "--redis", default=None, metavar="URL", help="use this Redis instead of starting one"
    )
    parser.add_argument("--out", default="results", help="results directory (default: results)")
    parser.add_argument("--name", default=None, help="run directory name (default: timestamp)")
    args = parser.parse_args(argv)
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
    scenario = scenario_from_args(args)
    limit = scenario.limit
    check_storage("redis://", Rate(str(limit), limit.count, limit.window), args.time_scale)
    settings = SharedLimitSettings(
        scenario=scenario,
        workers=args.workers,
        procs=args.client_procs,
        runs=args.runs,
        redis=args.redis,
    )
    if args.redis is not None:  # before a run folder is made for nothing
        from clients.limiters.redis_log import check_redis

        check_redis(args.redis)
    run_dir = new_run_dir(args.out, args.name)
    print(
        f"ratebench redis: {len(STORAGES) * len(settings.clients)} pairings × {settings.runs} "
        f"run(s) → {run_dir}",
        file=sys.stderr,
        flush=True,
    )
    began = time.monotonic()
    try:
        records = run_all(
            settings, run_dir, lambda record: print(run_line(record), file=sys.stderr, flush=True)
        )
    except RedisUnavailable as exc:
        raise UsageError(str(exc)) from None
    rows = summarize(records)
    write_json(
        run_dir / "summary.json",
        {
            "schema": "ratebench.shared-limit-summary/2",
            "settings": {
                **{k: v for k, v in asdict(settings).items() if k != "scenario"},
                "scenario": scenario.to_dict(),
            },
            "rows": [row.to_dict() for row in rows],
        },
    )
    (run_dir / "report.md").write_text(build_report(rows, settings))
    print(format_table(rows, settings))
    print(f"\n{time.monotonic() - began:.0f} s; results: {run_dir}")
    return 0
