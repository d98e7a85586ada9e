"""`python -m bench leaderboard`: every library client beside our best, one table.

Runs each scenario of `bench.experiments.leaderboard.SCENARIOS` (or the one
named by `--scenario`) into OUT/<scenario>/, then draws leaderboard.md and
leaderboard.json in OUT from every scenario folder there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.experiments.leaderboard import RUNS, SCENARIOS, Board, board, run_board, write_tables
from bench.records.results import RunRecord, check_out
from bench.running.plan import Job
from mock_server.vocabulary import OneLineParser, UsageError, check_time_scale

OUT = "results/leaderboard"


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m bench leaderboard",
        description=(
            "Run every library client (pyrate-limiter, limits, LangChain's "
            "InMemoryRateLimiter, smartratelimit, LiteLLM's Router, aiolimiter, aiometer, "
            "the OpenAI SDK, tenacity) and ratebench's best on a fixed set of scenarios, each "
            "client in a process of its own against a mock server of its own, and write one "
            "table (OUT/leaderboard.md and .json): makespan ÷ the best possible, 429s, "
            "requests lost, CPU per request, peak memory, theory where a model exists, and "
            "the lines a user writes. Each scenario's runs, report and plots are in "
            "OUT/<scenario>/."
        ),
    )
    names = ", ".join(b.name for b in SCENARIOS)
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run this scenario only (repeatable; known: {names}); the table is "
        "redrawn from every scenario folder in OUT",
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS, help=f"runs per client and scenario (default: {RUNS})"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every duration, for a quick check (default: 1, the leaderboard; "
        "libraries that keep wall-clock windows are not measured as they run at another)",
    )
    parser.add_argument(
        "--clients",
        default=None,
        help="comma-separated clients to run, of those on each scenario (default: all)",
    )
    parser.add_argument("--out", default=OUT, help=f"results directory (default: {OUT})")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="run nothing: redraw the table from the scenario folders already in OUT",
    )
    return parser


def progress(b: Board, job: Job, record: RunRecord | None) -> None:
    if record is None:
        return
    if record.ok:
        what = f"{record.seconds:8.2f} s  {record.rejections:4d} × 429"
    else:
        what = f"FAILED: {record.reason}"
    print(f"  {b.name:<16} {job.client:<24} run {job.run + 1}  {what}", file=sys.stderr)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    chosen = [board(name) for name in args.scenario] or list(SCENARIOS)
    if not 1 <= args.runs <= 100:
        raise UsageError(f"--runs {args.runs} must be between 1 and 100")
    check_time_scale(args.time_scale)
    only = [c.strip() for c in (args.clients or "").split(",") if c.strip()]
    out = check_out(args.out)
    if not args.table_only:
        for b in chosen:
            names = [c for c in b.clients() if not only or c in only]
            if not names:
                print(f"{b.name}: none of the clients asked for runs on it", file=sys.stderr)
                continue
            print(
                f"leaderboard {b.name}: {len(names)} clients × {args.runs} runs, time scale "
                f"{args.time_scale:g} → {out / b.name}",
                file=sys.stderr,
            )
            began = time.monotonic()
            run_board(
                b, out, runs=args.runs, time_scale=args.time_scale, only=only, progress=progress
            )
            print(f"  {b.name} done in {time.monotonic() - began:.0f} s", file=sys.stderr)
    md, js = write_tables(Path(out))
    print(md.read_text(encoding="utf-8"))
    print(f"Results: {md} and {js}")
    return 0
