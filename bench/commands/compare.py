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
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bench.cli import COMMANDS
from bench.commands import Interrupted
from bench.endpoints.registry import (
    add_scenario_arguments,
    endpoint,
    endpoint_for,
    format_simulation,
    scenario_from_args,
    theory_for_runs,
)
from bench.output.checks import HELP as CHECK_HELP
from bench.output.checks import Check, evaluate, format_outcomes, parse_check
from bench.output.summary import format_summary, write_summary
from bench.records.results import SUMMARY_FILE, RunRecord, new_run_dir, write_json, write_theory
from bench.records.scenario import KnobValue, Scenario, ScenarioError
from bench.records.stats import client_stats
from bench.running.parallel import MAX_JOBS, JobsChoice, choose_jobs
from bench.running.plan import BenchPlan, Job
from bench.running.runner import BenchAborted, reach_server, run_bench, settings_mismatches
from clients import REGISTRY, WRITEUP_CLIENTS, local_clients, spec
from clients.config import RETRY_NAMES, ConfigError
from clients.spec import ClientSpec
from mock_server.vocabulary import OneLineParser, UsageError

DEFAULT_CLIENTS = WRITEUP_CLIENTS


class LeftColumn(TimeRemainingColumn):
    """ "left 0:01:10" while runs remain; nothing once all are done (the last line
    printed where the output is not a terminal said "left 0:00:00")."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("")
        return Text("left ") + super().render(task)


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
            "10 runs per client (about 75 seconds with runs side by side on 2 cores; "
            "--jobs 1: about 13 minutes)."
        ),
        epilog=f"Other commands, each with its own --help: {', '.join(COMMANDS)} "
        "(`python -m bench plot RESULTS_DIR` re-draws plots and report from saved files).",
    )
    parser.add_argument(
        "--clients",
        default=None,
        help=f"comma-separated clients, or 'all' (every client of --api that needs no Redis, "
        "the leaderboard's library clients aside) "
        f"(known: {', '.join(REGISTRY)}; "
        f"default: {','.join(DEFAULT_CLIENTS)}, or every openai client with --api openai)",
    )
    parser.add_argument("--runs", type=int, default=10, help="runs per client (default: 10)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="runs side by side, each with a server of its own (its own limit and log, the "
        "same seeds): 1 runs them one after another. Default: chosen from what the runs "
        "cost, keeping the machine mostly idle so that no run's timing disturbs another's, "
        "and printed; one at a time with --url",
    )
    add_scenario_arguments(
        parser, helps={"n": "requests per batch (default: {default}, or --requests' lines)"}
    )
    parser.add_argument(
        "--retry",
        default=None,
        choices=RETRY_NAMES,
        help="retry sleeps: exponential 3,6,12,24 s (default); writeup "
        "3,9,81,6561 s as its code does; none",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="scenario seconds after which a run gives up (default: 600, or ten times "
        "what the slowest policy needs for a large batch)",
    )
    knobs = parser.add_argument_group(
        "client knobs",
        "By default every client's knobs follow the scenario: a bucket or sliding log "
        "gets the limit's rate and count, a pool or cap the limit's count in workers "
        "(the write-up's 2 for 2/second), the deadline the batch's size. These set a "
        "knob for every client that has it; the summary and report list the knobs each "
        "client ran with.",
    )
    knobs.add_argument(
        "--workers",
        type=int,
        default=None,
        help="threads in a pool, or requests in flight for a capped client "
        "(default: the limit's count)",
    )
    knobs.add_argument(
        "--client-rate",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="tokens per scenario second of the clients' buckets and logs "
        "(default: the limit's rate)",
    )
    knobs.add_argument(
        "--pool",
        type=int,
        default=None,
        help="connections an aiohttp client may hold open, 0 for no limit (default: 0; "
        "aiohttp's own default is 100, a hidden cap on requests in flight)",
    )
    knobs.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="the clients' bucket capacity or log length (default: the limit's count)",
    )
    parser.add_argument("--out", default="results", help="directory for results (default: results)")
    parser.add_argument(
        "--name", default=None, help="name of the run directory under OUT (default: a timestamp)"
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
        help="virtual runs per client behind theory's predictions (default: 50000 / n "
        "within 10..4000, so 4000 up to 12 requests, 50 at 1000, 10 from 5000: about 2 s of "
        "theory per client up to 5000 requests). The predicted mean's standard error is "
        "σ/√N, σ the "
        "spread theory prints: 0.01 s at the write-up's 10 requests, 0.01-0.03 s at 10000 "
        "requests of 20 per second and 1-2 s latencies",
    )
    parser.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="NAME='SHELL COMMAND'",
        help="also bench a program of your own, run through the shell as a whole process "
        "(timed like hyperfine) and judged by the server's log; it finds the server in "
        "RATEBENCH_URL, RATEBENCH_CHAT_URL, OPENAI_BASE_URL, ANTHROPIC_BASE_URL, and the "
        "batch in RATEBENCH_N, "
        "RATEBENCH_TIME_SCALE. Repeatable; with no --clients, only the commands run",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="the API key every client presents (Authorization: Bearer KEY, or x-api-key "
        "KEY to Anthropic's API) and every --command gets as OPENAI_API_KEY and "
        "ANTHROPIC_API_KEY: one of the keys of a --url server started with --api-key; the "
        "bench's own server is started with it as its one key. Never "
        "written to the results (default: none)",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="'[CLIENT:]METRIC OP NUMBER'",
        help=CHECK_HELP,
    )
    parser.add_argument(
        "--url",
        default=None,
        help="use a mock server already running at this base URL instead "
        "of starting one (it must be ratebench's: /log and /reset). Its own settings "
        "are checked against the bench's --rate, --latency, --strategy, --time-scale "
        "(or --rpm, --tpm): a difference is refused, naming the flags to pass",
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
    commands = parse_commands(args.command)
    if args.clients is None and commands:
        names = []
    elif args.clients is None:
        names = list(endpoint(args.api).default_clients())
    elif args.clients == "all":
        names = list(local_clients(args.api))
    else:
        names = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in names if c not in REGISTRY]
    if unknown or not (names or commands):
        raise UsageError(
            f"unknown client {', '.join(unknown) or '(none)'}: choose from {', '.join(REGISTRY)}"
        )
    check_api(names, args.api)
    _check_redis(names)
    if args.runs < 1:
        raise UsageError(f"--runs {args.runs}: need at least 1 run per client")
    if args.runs > 10_000:
        raise UsageError(f"--runs {args.runs} is more than 10000: split it into several benches")
    try:
        scenario = scenario_from_args(args)
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
    for knob, value in (
        ("workers", args.workers),
        ("rate", args.client_rate),
        ("capacity", args.capacity),
        ("pool", args.pool),
    ):
        if value is not None:
            overrides.append((knob, value))
    if args.api_key is not None:
        from mock_server.keys import KeySpecError, parse_keys

        if "=" in args.api_key:
            raise UsageError(
                "--api-key takes the key alone, without =PROJECT: it is what every client "
                "sends, and the bench's own server is started with it as its one key"
            )
        try:  # the server's rules for a key
            parse_keys([args.api_key])
        except KeySpecError as exc:
            raise UsageError(str(exc).replace(" #1", "")) from None
    plan = BenchPlan(
        clients=tuple(dict.fromkeys(names)),
        runs=args.runs,
        scenario=scenario,
        overrides=tuple(overrides),
        url=args.url,
        commands=commands,
        api_key=args.api_key,
    )
    try:
        plan.client_config("http://127.0.0.1/chat")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return plan


def check_url_settings(url: str, scenario: Scenario, api_key: str | None = None) -> None:
    """A server at `--url` must run the scenario the bench was told (its theory and
    "× the best possible" are computed from it), and get a key if it issued keys:
    UsageError naming the flags to pass."""
    settings = reach_server(url)[1].get("settings")
    if not isinstance(settings, dict):
        raise UsageError(
            f"the server at {url} does not report its settings (GET /log): "
            "start a ratebench mock server there, or leave out --url"
        )
    if settings.get("api_keys") and not api_key:
        raise UsageError(
            f"the server at {url} takes only requests with one of its API keys: pass "
            "--api-key KEY (one it was started with)"
        )
    wrong = settings_mismatches(settings, scenario)
    if wrong:
        flags = " ".join(wrong)
        raise UsageError(
            f"the server at {url} runs with {', '.join(wrong)}, not what the bench was told: "
            f"pass {flags} (the server's settings), or leave out --url to let the bench "
            "start its own"
        )


def parse_commands(given: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`--command NAME='...'` values as (name, command); UsageError for a bad one."""
    commands: dict[str, str] = {}
    for value in given:
        name, eq, command = value.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier() or not command.strip():
            raise UsageError(
                f"--command {value!r}: write NAME='shell command', NAME a word "
                "such as tb (e.g. --command tb='python -m clients token_bucket')"
            )
        if name in REGISTRY or name in commands:
            raise UsageError(
                f"--command {name}: that name is taken by "
                f"{'a built-in client' if name in REGISTRY else 'another --command'}; "
                "choose another"
            )
        commands[name] = command.strip()
    return tuple(commands.items())


def check_api(names: Sequence[str], api: str) -> None:
    """UsageError if a client speaks another endpoint than the bench's."""
    wrong = [c for c in names if not spec(c).speaks(api)]
    if wrong:
        raise UsageError(
            f"{', '.join(wrong)} speak{'s' if len(wrong) == 1 else ''} another API than "
            f"--api {api}: choose from {', '.join(local_clients(api)) or '(none)'}"  # type: ignore[arg-type]
        )


def estimate(client: ClientSpec, plan: BenchPlan) -> float:
    """Rough wall seconds of one run, for the progress bar's weights (the endpoint's
    estimate from the scenario alone, by the client's policy)."""
    scenario = plan.scenario
    config = plan.client_config("http://127.0.0.1/chat")
    return endpoint_for(scenario).estimate(client, scenario, config) * scenario.time_scale


def theory_runs(args: argparse.Namespace) -> int | None:
    """`--theory-runs`, checked: a whole number from 1 to 100000; None: by batch size
    (`bench.theory.expected.sim_runs_for`)."""
    if args.theory_runs is None:
        return None
    if not 1 <= args.theory_runs <= 100_000:
        raise UsageError(f"--theory-runs {args.theory_runs} must be between 1 and 100000")
    return int(args.theory_runs)


def jobs_from_args(args: argparse.Namespace, plan: BenchPlan) -> JobsChoice:
    """`--jobs`, checked, or the bench's own choice (`bench.running.parallel`)."""
    if args.jobs is None:
        return choose_jobs(plan)
    if not 1 <= args.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs {args.jobs} must be between 1 and {MAX_JOBS}")
    if args.jobs > 1 and plan.url is not None:
        raise UsageError(
            f"--jobs {args.jobs} needs a server per run, and --url is one server whose "
            "limit every run would share: leave out --jobs or --url"
        )
    return JobsChoice(args.jobs, f"{args.jobs} at a time (--jobs)")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    plan = plan_from_args(args)
    jobs = jobs_from_args(args, plan)
    sim_runs = theory_runs(args)
    scenario = plan.scenario
    names = (*plan.clients, *(name for name, _ in plan.commands))
    checks = [parse_check(text, names) for text in args.check]
    if args.simulate:
        print(format_simulation(scenario, plan.clients, plan.overrides, sim_runs))
        return 0
    if plan.url is not None:
        # Before anything is created or printed.
        check_url_settings(plan.url, scenario, plan.api_key)
    run_dir = new_run_dir(args.out, args.name)
    prepared, beside = endpoint_for(plan.scenario).prepare(plan.scenario, run_dir)
    plan = replace(plan, scenario=prepared)
    scenario = plan.scenario
    console = Console(stderr=True)
    console.print(
        f"ratebench: {len(plan.clients) + len(plan.commands)} clients × {plan.runs} runs, "
        f"{scenario.n} requests each, "
        f"limit {endpoint_for(scenario).limit_words(scenario)} ({scenario.limit.strategy}), "
        f"time scale {scenario.time_scale:g} → {run_dir}"
    )
    console.print(f"  {jobs.why}")
    total = plan.runs * len(names)
    weights = {c: estimate(spec(c), plan) for c in plan.clients}
    # A command's policy is unknown: weigh it as the slowest built-in client, or the limit's pace.
    pace = plan.scenario.n / plan.scenario.limit.per_second * plan.scenario.time_scale
    weights |= {name: max([pace, *weights.values()]) for name, _ in plan.commands}
    records: list[RunRecord] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} runs"),
        TimeElapsedColumn(),
        LeftColumn(),
        console=console,
        transient=False,
    )
    # The bar advances by each run's expected duration, not by one per run, so
    # that its time-left estimate holds while short and long runs alternate.
    task = progress.add_task("starting", total=sum(weights.values()) * plan.runs, done=f"0/{total}")

    in_flight: dict[int, Job] = {}

    def describe() -> str:
        if len(in_flight) == 1:
            [job] = in_flight.values()
            return f"run {job.run + 1}/{plan.runs} · {job.client}"
        return f"{len(in_flight)} runs in flight"

    def on_start(job: Job) -> None:
        in_flight[job.index] = job
        progress.update(task, description=describe())

    def on_done(job: Job, record: RunRecord) -> None:
        in_flight.pop(job.index, None)
        progress.update(task, description=describe())
        records.append(record)
        progress.update(task, advance=weights[job.client], done=f"{len(records)}/{total}")
        if len(records) == total:  # the weights' float sum may fall short of the total
            progress.update(task, completed=sum(weights.values()) * plan.runs)
        if record.ok:
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  {record.seconds:8.2f} s  "
                f"{record.rejections:3d} × 429  "
                f"{record.completed}/{record.n} done{beside(record)}"
            )
        else:
            progress.console.print(
                f"  {job.client:<16} run {job.run + 1:>3}  FAILED: {record.reason}"
            )

    from bench.running.live import live_or_progress

    # On a terminal the live view draws the bar and the run in progress; else the bar alone.
    display, started, done, observe = live_or_progress(console, plan, progress, on_start, on_done)
    status = 0
    try:
        with display:
            run_bench(plan, run_dir, started, done, jobs=jobs.jobs, observe=observe)
    except Interrupted as exc:
        status = 128 + exc.signum
        servers = "the mock server was" if jobs.jobs == 1 else "the mock servers were"
        console.print(
            f"interrupted ({exc}): {len(records)} of {total} runs finished and kept "
            f"in {run_dir / 'runs.jsonl'}; {servers} stopped"
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
        # In the schedule's order (runs side by side finish in any order), as runs.jsonl.
        records.sort(key=lambda r: (r.run, names.index(r.client)))
        passed = finish(run_dir, records, console, args.matrix, sim_runs, checks)
        print(f"\nResults: {run_dir}")
        if not passed and status == 0:
            status = 1
    else:
        remove_if_empty(run_dir)
    return status


def remove_if_empty(run_dir: Path) -> None:
    """A folder no run reached holds nothing to re-draw: leave no empty one behind."""
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def finish(
    run_dir: Path,
    records: list[RunRecord],
    console: Console,
    matrix: bool,
    sim_runs: int | None,
    checks: Sequence[Check] = (),
) -> bool:
    """Theory once, stored beside the runs; then summary, plots and report from
    the files, and the checks over the summary: whether every one passed."""
    from bench.output.report import write_report
    from bench.theory.models import TheoryError

    try:
        theory = theory_for_runs(records, sim_runs)
    except TheoryError as exc:
        console.print(f"warning: no theory for this scenario: {exc}")
        theory = None
    if theory is not None:
        write_theory(run_dir, theory)
    summary = write_summary(run_dir, records, theory)
    print(format_summary(records, theory))  # says "no completed runs" for a client with none
    if matrix and client_stats(records):
        from bench.output.matrix import format_matrix

        print(format_matrix(client_stats(records)))
    write_report(run_dir)
    if not checks:
        return True
    outcomes = evaluate(checks, summary)
    summary["checks"] = [o.to_dict() for o in outcomes]
    write_json(run_dir / SUMMARY_FILE, summary)
    print(format_outcomes(outcomes))
    return all(o.passed for o in outcomes)
