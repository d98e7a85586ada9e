"""`python -m bench`: the write-up's comparison, end to end.

The command line becomes one `BenchPlan` (clients, runs, a typed `Scenario`,
the client knobs set by hand); the runs go to runs.jsonl as they end; then
theory is computed once and stored (theory.json), and summary, plots and
report are drawn from those files.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.commands import Interrupted
from bench.results import RunRecord, new_run_dir, write_theory
from bench.runner import BenchAborted, BenchPlan, Job, check_url, run_bench
from bench.scenario import Faults, KnobValue, ScenarioError, parse_scenario
from bench.schedules import collision_waves
from bench.stats import client_stats
from bench.summary import format_summary, write_summary
from clients import REGISTRY, WRITEUP_CLIENTS, local_clients, spec
from clients.config import RETRY_NAMES, SERVER_STRATEGIES, ConfigError
from clients.infra.oneline import OneLineParser, UsageError
from clients.spec import ClientSpec

DEFAULT_CLIENTS = WRITEUP_CLIENTS


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m bench",
        description=(
            "Run every client repeatedly against the rate-limited mock server and compare "
            "them: makespan (batch start to last response), 429s from the server's own log, "
            "and theory's prediction. Starts its own server unless --url is given. Writes "
            "runs.jsonl (each run as soon as it ends), theory.json (theory, computed once), "
            "summary.json (hyperfine's layout), plots and report.md under "
            "OUT/<timestamp>/, and points OUT/latest at it. "
            "The defaults reproduce the write-up: 10 requests, 2/second, latency 2-5 s, "
            "10 runs per client (about 15 minutes; --time-scale 0.1 takes about 1.5)."
        ),
        epilog="Other commands: `python -m bench plot RESULTS_DIR` re-draws plots and "
        "report from saved files.",
    )
    parser.add_argument(
        "--clients",
        default=",".join(DEFAULT_CLIENTS),
        help=f"comma-separated clients, or 'all' (every client that needs no Redis) "
        f"(known: {', '.join(REGISTRY)}; "
        f"default: {','.join(DEFAULT_CLIENTS)})",
    )
    parser.add_argument("--runs", type=int, default=10, help="runs per client (default: 10)")
    parser.add_argument("-n", type=int, default=10, help="requests per batch (default: 10)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every duration (latency, window, retry sleeps); "
        "results are reported in scenario seconds (default: 1)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="run i of every client uses latency seed SEED+i (default: 0)",
    )
    parser.add_argument(
        "--retry",
        default=None,
        choices=RETRY_NAMES,
        help="retry sleeps: exponential 3,6,12,24 s (default); writeup "
        "3,9,81,6561 s as its code does; none",
    )
    parser.add_argument("--rate", default="2/second", help="server limit (default: 2/second)")
    parser.add_argument(
        "--strategy",
        default="fixed-window",
        choices=SERVER_STRATEGIES,
        help="server's limits strategy (default: fixed-window)",
    )
    parser.add_argument(
        "--latency", default="2-5", help="server latency range in seconds (default: 2-5)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="scenario seconds after which a run gives up (default: 600)",
    )
    parser.add_argument("--out", default="results", help="directory for results (default: results)")
    parser.add_argument(
        "--name", default=None, help="name of the run directory under OUT (default: a timestamp)"
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fault injection: the server answers this share of accepted requests with an "
        "error (default: 0)",
    )
    parser.add_argument(
        "--error-kind",
        choices=("500", "garbage"),
        default="500",
        help="what --error-rate answers: a 500, or a 200 whose body is not JSON (default: 500)",
    )
    parser.add_argument(
        "--stall-after",
        type=int,
        default=None,
        help="fault injection: the server stops answering after N accepted requests",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="after the summary, print the 2 × 3 table (threads / asyncio × at most N in "
        "flight / no limit / token bucket) of mean makespans and 429s per run",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="print what theory predicts for this comparison (virtual time, no server, "
        "a few seconds) and exit",
    )
    parser.add_argument(
        "--theory-runs",
        type=int,
        default=None,
        metavar="N",
        help="virtual runs per client behind theory's predictions (default 4000: the "
        "predicted mean's standard error is about 0.03 s; fewer is faster and rougher)",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="use a mock server already running at this base URL instead "
        "of starting one (it must be ratebench's: /log and /reset)",
    )
    return parser


def _check_redis(names: Sequence[str]) -> None:
    needs_redis = sorted(c for c in names if "redis" in spec(c).needs)
    if not needs_redis:
        return
    from clients.config import ClientConfig
    from clients.limiters.redis_log import check_redis

    url = ClientConfig().redis_url
    try:
        check_redis(url)
    except ConfigError:
        raise UsageError(
            f"{', '.join(needs_redis)} needs a Redis at {url}: "
            "start one there (`redis-server --save ''`), or see `python -m bench redis`, "
            "which starts its own"
        ) from None


def plan_from_args(args: argparse.Namespace) -> BenchPlan:
    """The command line as one checked plan; UsageError (one line) for bad input."""
    names = (
        list(local_clients())
        if args.clients == "all"
        else [c.strip() for c in args.clients.split(",") if c.strip()]
    )
    unknown = [c for c in names if c not in REGISTRY]
    if unknown or not names:
        raise UsageError(
            f"unknown client {', '.join(unknown) or '(none)'}: choose from {', '.join(REGISTRY)}"
        )
    _check_redis(names)
    if args.runs < 1:
        raise UsageError(f"--runs {args.runs}: need at least 1 run per client")
    if args.runs > 10_000:
        raise UsageError(f"--runs {args.runs} is more than 10000: split it into several benches")
    try:
        scenario = parse_scenario(
            rate=args.rate,
            strategy=args.strategy,
            latency=args.latency,
            n=args.n,
            time_scale=args.time_scale,
            seed=args.seed,
            faults=Faults(args.error_rate, args.error_kind, args.stall_after),
        )
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.url is not None and scenario.faults.any:
        raise UsageError(
            "--error-rate and --stall-after need the bench's own server: "
            "leave out --url, or start the server with those flags"
        )
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url {args.url!r} must start with http://, e.g. http://127.0.0.1:8000")
    overrides: list[tuple[str, KnobValue]] = []
    if args.retry is not None:
        overrides.append(("retry", args.retry))
    if args.deadline is not None:
        overrides.append(("deadline", args.deadline))
    plan = BenchPlan(
        clients=tuple(dict.fromkeys(names)),
        runs=args.runs,
        scenario=scenario,
        overrides=tuple(overrides),
        url=args.url,
    )
    try:
        plan.client_config("http://127.0.0.1/chat")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return plan


def estimate(client: ClientSpec, plan: BenchPlan) -> float:
    """Rough wall seconds of one run, for the progress bar's weights.

    From the scenario alone, by the client's policy: a cap on requests in
    flight takes n × latency / cap; no limit waits out its retry waves; the
    rest go about as fast as the limit allows.
    """
    s = plan.scenario
    latency = s.latency.mean
    if client.caps_in_flight:
        workers = plan.client_config("http://127.0.0.1/chat").workers
        seconds = s.n * latency / workers + latency / 2
    elif client.policy == "no limit":
        sleeps = s.retry_sleeps(plan.client_config("http://127.0.0.1/chat"))
        waves = collision_waves(s.n, s.limit.count)
        seconds = sum(sleeps[: len(waves)]) + s.latency.hi
    else:
        seconds = s.n / s.limit.per_second + latency
    return seconds * s.time_scale


def theory_runs(args: argparse.Namespace) -> int:
    """`--theory-runs`, checked: a whole number from 1 to 100000."""
    from bench.predict import SIM_RUNS

    if args.theory_runs is None:
        return SIM_RUNS
    if not 1 <= args.theory_runs <= 100_000:
        raise UsageError(f"--theory-runs {args.theory_runs} must be between 1 and 100000")
    return int(args.theory_runs)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    plan = plan_from_args(args)
    sim_runs = theory_runs(args)
    scenario = plan.scenario
    if args.simulate:
        from bench.predict import format_simulation

        print(format_simulation(scenario, plan.clients, plan.overrides, sim_runs))
        return 0
    if plan.url is not None:
        check_url(plan.url)  # before anything is created or printed
    run_dir = new_run_dir(args.out, args.name)
    console = Console(stderr=True)
    console.print(
        f"ratebench: {len(plan.clients)} clients × {plan.runs} runs, "
        f"{scenario.n} requests each, limit {scenario.limit} ({scenario.limit.strategy}), "
        f"time scale {scenario.time_scale:g} → {run_dir}"
    )
    total = plan.runs * len(plan.clients)
    weights = {c: estimate(spec(c), plan) for c in plan.clients}
    records: list[RunRecord] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} runs"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    # The bar advances by each run's expected duration, not by one per run, so
    # that its time-left estimate holds while short and long runs alternate.
    task = progress.add_task("starting", total=sum(weights.values()) * plan.runs, done=f"0/{total}")

    def on_start(job: Job) -> None:
        progress.update(task, description=f"run {job.run + 1}/{plan.runs} · {job.client}")

    def on_done(job: Job, record: RunRecord) -> None:
        records.append(record)
        progress.update(task, advance=weights[job.client], done=f"{len(records)}/{total}")
        if record.ok:
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  {record.seconds:8.2f} s  "
                f"{record.rejections:3d} × 429  "
                f"{record.completed}/{record.n} done"
            )
        else:
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  FAILED: {record.reason}"
            )

    status = 0
    try:
        with progress:
            run_bench(plan, run_dir, on_start, on_done)
    except Interrupted as exc:
        status = 128 + exc.signum
        console.print(
            f"interrupted ({exc}): {len(records)} of {total} runs finished and kept "
            f"in {run_dir / 'runs.jsonl'}; the mock server was stopped"
        )
    except BenchAborted as exc:
        status = 1
        console.print(f"error: {exc}; {len(records)} finished runs kept in {run_dir}")
    failed = [r for r in records if not r.ok]
    if failed and status == 0:
        status = 1
        console.print(
            f"warning: {len(failed)} of {len(records)} runs failed and are left out "
            "of the figures; their reasons are listed below and in summary.json"
        )
    if records:
        finish(run_dir, records, console, matrix=args.matrix, sim_runs=sim_runs)
        print(f"\nResults: {run_dir}")
    else:
        remove_if_empty(run_dir)
    return status


def remove_if_empty(run_dir: Path) -> None:
    """A folder no run reached holds nothing to re-draw: leave no empty one behind."""
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def finish(
    run_dir: Path, records: list[RunRecord], console: Console, matrix: bool, sim_runs: int
) -> None:
    """Theory once, stored beside the runs; then summary, plots and report from the files."""
    from bench.predict import theory_for_runs
    from bench.report import write_report
    from bench.theory import TheoryError

    try:
        theory = theory_for_runs(records, sim_runs)
    except TheoryError as exc:
        console.print(f"warning: no theory for this scenario: {exc}")
        theory = None
    if theory is not None:
        write_theory(run_dir, theory)
    write_summary(run_dir, records, theory)
    print(format_summary(records, theory))  # says "no completed runs" for a client with none
    if matrix and client_stats(records):
        from bench.matrix import format_matrix

        print(format_matrix(client_stats(records)))
    write_report(run_dir)
