"""`python -m bench`: the write-up's comparison, end to end."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.results import ResultsError, load_runs, new_run_dir
from bench.runner import BenchAborted, BenchSettings, Job, check_url, run_bench
from bench.stats import makespan_seconds, server_rejections
from bench.summary import format_summary, write_summary
from clients import REGISTRY, WRITEUP_CLIENTS, local_clients, spec
from clients.config import RETRY_NAMES, ClientConfig, ConfigError
from mock_server.process import ServerError
from mock_server.settings import (
    STRATEGIES,
    SettingsError,
    check_time_scale,
    parse_latency,
    parse_limit,
)

DEFAULT_CLIENTS = WRITEUP_CLIENTS


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m bench",
        description=(
            "Run every client repeatedly against the rate-limited mock server and compare "
            "them: makespan (batch start to last response), 429s from the server's own log, "
            "and theory's prediction. Starts its own server unless --url is given. Writes "
            "runs.jsonl (each run as soon as it ends), summary.json (hyperfine's layout), "
            "plots and report.md under OUT/<timestamp>/, and points OUT/latest at it. "
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
        default="exponential",
        choices=RETRY_NAMES,
        help="retry sleeps: exponential 3,6,12,24 s (default); writeup "
        "3,9,81,6561 s as its code does; none",
    )
    parser.add_argument("--rate", default="2/second", help="server limit (default: 2/second)")
    parser.add_argument(
        "--strategy",
        default="fixed-window",
        choices=STRATEGIES,
        help="server's limits strategy (default: fixed-window)",
    )
    parser.add_argument(
        "--latency", default="2-5", help="server latency range in seconds (default: 2-5)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=600.0,
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
        "--url",
        default=None,
        help="use a mock server already running at this base URL instead "
        "of starting one (it must be ratebench's: /log and /reset)",
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
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
    needs_redis = sorted(c for c in names if "redis" in spec(c).needs)
    if needs_redis:
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
    if args.runs < 1:
        raise UsageError(f"--runs {args.runs}: need at least 1 run per client")
    if args.runs > 10_000:
        raise UsageError(f"--runs {args.runs} is more than 10000: split it into several benches")
    try:
        parse_limit(args.rate)
        parse_latency(args.latency)
        check_time_scale(args.time_scale)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if not 0 <= args.error_rate <= 1:
        raise UsageError(f"--error-rate {args.error_rate} must be a probability in [0, 1]")
    if args.stall_after is not None and args.stall_after < 0:
        raise UsageError(f"--stall-after {args.stall_after} must be >= 0")
    if args.url is not None and (args.error_rate or args.stall_after is not None):
        raise UsageError(
            "--error-rate and --stall-after need the bench's own server: "
            "leave out --url, or start the server with those flags"
        )
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url {args.url!r} must start with http://, e.g. http://127.0.0.1:8000")
    settings = BenchSettings(
        clients=tuple(dict.fromkeys(names)),
        runs=args.runs,
        n=args.n,
        time_scale=args.time_scale,
        seed=args.seed,
        retry=args.retry,
        rate=args.rate,
        strategy=args.strategy,
        latency=args.latency,
        url=args.url,
        deadline=args.deadline,
        error_rate=args.error_rate,
        error_kind=args.error_kind,
        stall_after=args.stall_after,
    )
    try:
        settings.client_config("http://127.0.0.1/chat")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return settings


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM; remembers which, for the exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def estimate(job: Job, settings: BenchSettings) -> float:
    """Rough wall seconds of one run, for the progress bar's weights."""
    rough = {"thread_pool": 18.5, "naive_gather": 49.0}.get(job.client, 9.5)
    return rough * settings.n / 10 * settings.time_scale


def bench(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    if args.simulate:
        from bench.predict import format_simulation

        print(format_simulation(settings.scenario(), list(settings.clients)))
        return 0
    if settings.url is not None:
        check_url(settings.url)  # before anything is created or printed
    run_dir = new_run_dir(Path(args.out), args.name)
    console = Console(stderr=True)
    console.print(
        f"ratebench: {len(settings.clients)} clients × {settings.runs} runs, "
        f"{settings.n} requests each, limit {settings.rate} ({settings.strategy}), "
        f"time scale {settings.time_scale:g} → {run_dir}"
    )
    total = settings.runs * len(settings.clients)
    weights = {c: estimate(Job(0, 0, c, 0), settings) for c in settings.clients}
    records: list[dict[str, Any]] = []
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
    task = progress.add_task(
        "starting", total=sum(weights.values()) * settings.runs, done=f"0/{total}"
    )
    runs_done = [0]

    def on_start(job: Job) -> None:
        progress.update(task, description=f"run {job.run + 1}/{settings.runs} · {job.client}")

    def on_done(job: Job, record: dict[str, Any]) -> None:
        runs_done[0] += 1
        records.append(record)
        progress.update(task, advance=weights[job.client], done=f"{runs_done[0]}/{total}")
        if record["status"] == "ok":
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  {makespan_seconds(record):8.2f} s  "
                f"{server_rejections(record):3d} × 429  "
                f"{record['completed']}/{record['n']} done"
            )
        else:
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  FAILED: {record['reason']}"
            )

    status = 0
    try:
        with progress:
            run_bench(settings, run_dir, on_start, on_done)
    except Interrupted as exc:
        status = 128 + exc.signum
        console.print(
            f"interrupted ({exc}): {runs_done[0]} of {total} runs finished and kept "
            f"in {run_dir / 'runs.jsonl'}; the mock server was stopped"
        )
    except BenchAborted as exc:
        status = 1
        console.print(f"error: {exc}; {runs_done[0]} finished runs kept in {run_dir}")
    failed = [r for r in records if r["status"] != "ok"]
    if failed and status == 0:
        status = 1
        console.print(
            f"warning: {len(failed)} of {len(records)} runs failed and are left out "
            "of the figures; their reasons are listed below and in summary.json"
        )
    if records:
        summary = write_summary(run_dir, records)
        if summary["results"]:
            print(format_summary(summary))
            if args.matrix:
                from bench.matrix import format_matrix

                print(format_matrix(summary))
        draw(run_dir)
        print(f"\nResults: {run_dir}")
    return status


def draw(run_dir: Path) -> None:
    """Plots and report, from the files alone."""
    try:
        from bench.report import write_report
    except ImportError:  # plots and report arrive in their own module
        return
    write_report(run_dir)


def plot(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench plot",
        description="Re-draw the plots and report.md of a results "
        "directory from its files, without re-running anything.",
    )
    parser.add_argument("results_dir", type=Path, help="a directory written by python -m bench")
    args = parser.parse_args(argv)
    runs = load_runs(args.results_dir)
    summary = write_summary(args.results_dir, runs)
    print(format_summary(summary))
    draw(args.results_dir)
    print(f"\nRe-drawn: {args.results_dir}")
    return 0


def replay_command(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench replay",
        description="Replay every run of a results directory through theory's model of its "
        "client, on the latencies the server drew in that run: what was luck of the draw, "
        "and what the client or the machine added.",
    )
    parser.add_argument("results_dir", type=Path, help="a directory written by python -m bench")
    args = parser.parse_args(argv)
    from bench.replay import format_replay, replay_runs

    print(format_replay(replay_runs(load_runs(args.results_dir))))
    return 0


def load(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench load",
        description="Measure the mock server itself on this machine: the latency it adds "
        "over the drawn one with many requests in flight, and how many 429s per "
        "second it can answer. Starts its own server; sends only to 127.0.0.1.",
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per measurement (default: 2000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=300, help="requests kept in flight (default: 300)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=1.0,
        help="the fixed latency the server draws, seconds (default: 1)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000:
        raise UsageError(f"--requests {args.requests} must be between 1 and 100000")
    if not 1 <= args.concurrency <= 5_000:
        raise UsageError(f"--concurrency {args.concurrency} must be between 1 and 5000")
    if not 0 <= args.latency <= 60:
        raise UsageError(f"--latency {args.latency} must be between 0 and 60 seconds")
    from bench.load import run_load

    figures = run_load(args.requests, args.concurrency, args.latency)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from bench.shared_limit import main as shared_limit
    from bench.sweep import main as sweep

    commands = {
        "plot": plot,
        "replay": replay_command,
        "load": load,
        "sweep": sweep,
        "redis": shared_limit,
    }
    # From here on SIGINT and SIGTERM unwind the stack like Ctrl-C, so that
    # every `with` (the server process above all) is closed on the way out.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return bench(argv)
    except (UsageError, ResultsError, ServerError, ConfigError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"interrupted ({exc})", file=sys.stderr)
        return 128 + exc.signum


__all__ = ["ClientConfig", "main"]
