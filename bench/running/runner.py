"""The bench driver: one mock server, every client, interleaved runs.

Runs go A B C A B C ... so that a slow patch of a busy machine hits every
client alike; before each run the server is reset (fresh window, empty log)
and reseeded, so that run i of every client faces the same latency draws.
Each finished run is appended to `runs.jsonl` at once.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.endpoints.registry import endpoint_for
from bench.records.results import RUNS_FILE, Machine, RunLog, RunRecord, SweepPoint, server_entries
from bench.records.scenario import Scenario
from bench.records.stats import unanswered
from bench.running.parallel import in_own_process, lane_servers, run_lanes
from bench.running.plan import (
    BenchPlan,
    ClientRunner,
    Job,
    describe_fault,
    fault_reason,
    server_failure,
)
from bench.running.shell_command import run_command
from clients import run_client
from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import Observer, observing
from clients.infra.records import ClientRun
from mock_server.processes.server import MockServer, ServerError, fetch_log, reset_server


def schedule(plan: BenchPlan) -> list[Job]:
    """Interleaved: run 0 of every client, then run 1 of every client, ..."""
    jobs: list[Job] = []
    for run in range(plan.runs):
        for client in (*plan.clients, *(name for name, _ in plan.commands)):
            jobs.append(Job(len(jobs), run, client, plan.scenario.seed + run))
    return jobs


class BenchAborted(RuntimeError):
    """The bench cannot go on (the server died); finished runs are kept."""


@contextlib.contextmanager
def server_for(plan: BenchPlan) -> Iterator[tuple[str, MockServer | None]]:
    """The base URL of a mock server: a fresh process, or `--url`'s after a check."""
    if plan.url is not None:
        yield check_url(plan.url), None
        return
    with MockServer(**plan.server_kwargs()) as server:
        yield server.url, server


def reach_server(url: str) -> tuple[str, dict[str, Any]]:
    """The base URL of the ratebench mock server at `url` and its `GET /log`, or one
    clear ServerError."""
    base = url.rstrip("/").removesuffix("/chat")
    try:
        log = fetch_log(base, timeout=5.0)
    except ServerError:
        raise ServerError(
            f"no ratebench mock server answers at {url}: start one with "
            "`python -m mock_server`, or leave out --url to let the bench start its own"
        ) from None
    return base, log


def check_url(url: str) -> str:
    """The base URL of the ratebench mock server at `url`, or one clear ServerError."""
    return reach_server(url)[0]


def settings_mismatches(settings: dict[str, Any], scenario: Scenario) -> list[str]:
    """Where the settings a server reports (`GET /log`) differ from the scenario the
    bench was told: one "flag: the server's value" phrase each, empty if they agree.

    The server's settings are the truth about what it enforces; the bench's theory,
    bound and "× the best possible" are only right if its scenario is the same.
    """
    wrong: list[str] = []
    if not math.isclose(float(settings["time_scale"]), scenario.time_scale, rel_tol=1e-9):
        wrong.append(f"--time-scale {settings['time_scale']:g}")
    if settings["strategy"] != scenario.limit.strategy:
        wrong.append(f"--strategy {settings['strategy']}")
    return wrong + endpoint_for(scenario).settings_mismatches(settings, scenario)


def run_one(
    plan: BenchPlan,
    job: Job,
    base: str,
    server: MockServer | None,
    machine: Machine,
    sweep: SweepPoint | None = None,
    runner: ClientRunner = run_client,
) -> RunRecord:
    """Reset the server, run the client, and join its attempts with the server's log.

    A server that dies (or stops answering) before or during the run gives a
    failed record saying so, never an exception: the run is kept, and the
    caller decides whether the bench can go on. So does a client that
    refuses its config once running (a library that cannot be told the
    window at this time scale): one client must not end a leaderboard.
    """
    commands = dict(plan.commands)
    if job.client in commands:
        return run_command(plan, job, commands[job.client], base, server, machine, sweep)
    config = plan.client_config(f"{base}/chat")

    def record(
        wall_start: float, result: ClientRun, entries: list[dict[str, Any]], reason: str | None
    ) -> RunRecord:
        return RunRecord(
            client=job.client,
            run=job.run,
            seed=job.seed,
            scenario=plan.scenario,
            config=config,
            overrides=tuple(name for name, _ in plan.overrides),
            machine=machine,
            wall_start=wall_start,
            started=result.started,
            makespan=result.makespan,
            attempts=result.attempts,
            server_log=server_entries(entries),
            status="ok" if reason is None else "failed",
            reason=reason,
            sweep=sweep,
            usage=result.usage,
        )

    try:
        reset_server(base, seed=job.seed)
    except ServerError as exc:
        never = ClientRun(job.client, config.n, time.monotonic(), (), 0.0)
        return record(time.time(), never, [], server_failure(server, "before the run", exc))
    wall_start = time.time()
    try:
        result = runner(job.client, config)
    except ConfigError as exc:  # the client (in a process of its own) refused to run
        never = ClientRun(job.client, config.n, time.monotonic(), (), 0.0)
        return record(wall_start, never, [], f"the client could not run: {exc}")
    elapsed = time.monotonic() - result.started
    try:
        entries = fetch_log(base)["entries"]
    except ServerError as exc:
        return record(wall_start, result, [], server_failure(server, "during the run", exc))
    return record(wall_start, result, entries, failure_reason(result, config, elapsed))


def failure_reason(result: ClientRun, config: ClientConfig, elapsed: float) -> str | None:
    """Why a run is not a measurement of its client, or None: the one place that decides.

    A run is a measurement only if every request of the batch got its answer
    and the server behaved; anything less has no makespan worth averaging (a
    batch cut off after 0 of 10 answers "took" 0 s). `elapsed` is wall
    seconds from the batch's start to the client's return: at or past the
    scaled deadline, the deadline ended the run, and the attempts it cut off
    (recorded as timeouts when it fell) are its doing, not the server's.
    """
    deadline = config.scaled(config.deadline)
    cut_off = elapsed >= deadline
    # An attempt the deadline cancelled finishes at the deadline; a few
    # milliseconds of slack for the cancellation itself.
    slack = max(0.005, 0.01 * deadline)
    cut = [a for a in result.attempts if a.outcome == "timeout" and a.finished >= deadline - slack]
    faulty = tuple(a for a in result.attempts if not (cut_off and a in cut))
    reasons = [r for r in (fault_reason(faulty),) if r is not None]
    unfinished = config.n - result.completed
    if unfinished > 0:
        if cut_off:
            waiting = f", {len(cut)} attempts still waiting for an answer" if cut else ""
            reasons.append(
                f"the deadline ({config.deadline:g} s) cut it off: {unfinished} of "
                f"{config.n} requests unfinished{waiting}"
            )
        else:
            answers = Counter(
                "429" if a.outcome == "rate_limited" else describe_fault(a)
                for a in unanswered(result.attempts).values()
            )
            told = ", ".join(f"{count} × {what}" for what, count in answers.most_common())
            reasons.append(
                f"{unfinished} of {config.n} requests never succeeded: the client gave up on "
                f"them after its retries" + (f" (last answers: {told})" if told else "")
            )
    return "; ".join(reasons) or None


def run_bench(
    plan: BenchPlan,
    run_dir: Path,
    on_start: Callable[[Job], None] = lambda job: None,
    on_done: Callable[[Job, RunRecord], None] = lambda job, rec: None,
    jobs: int = 1,
    observe: Callable[[Job], Observer | None] = lambda job: None,
    own_process: bool = False,
) -> list[RunRecord]:
    """Run every job, `jobs` at a time, appending each record to `run_dir/runs.jsonl`
    as it finishes.

    `jobs` 1 runs them one after another in this thread against one server;
    more runs them side by side, each lane with a server of its own
    (`bench.running.parallel`), each client in a process of its own; with
    `own_process`, one at a time does so too (the leaderboard measures each
    client's CPU and memory). `observe(job)` is the observer of that run's
    recorder (the live view's), or None. Returns the records. A run the server
    spoiled is recorded as failed, with its reason, and the bench goes on; if
    a server died, BenchAborted is raised after the failed run is recorded.
    KeyboardInterrupt propagates after the servers are stopped, with every
    finished run already on disk.
    """
    log = RunLog(run_dir / RUNS_FILE, latest=True)
    records: list[RunRecord] = []

    def finished(job: Job, record: RunRecord, server: MockServer | None) -> None:
        log.append(record)
        records.append(record)
        on_done(job, record)
        if server is not None and not server.alive():
            # The server can die just after a run it answered in full: that
            # run stands, and the bench still cannot go on.
            what = f"failed: {record.reason}" if record.reason else "finished"
            raise BenchAborted(f"the mock server died; run {job.run} of {job.client} {what}")

    if jobs > 1:
        todo = schedule(plan)
        here = Machine.here()

        def run(job: Job, server: MockServer, runner: ClientRunner) -> RunRecord:
            return run_one(plan, job, server.url, server, here, runner=runner)

        by_index: dict[int, RunRecord] = {}
        try:
            with lane_servers(plan, min(jobs, len(todo))) as servers:
                for job, done, lane in run_lanes(plan, todo, servers, run, observe):
                    if done is None:
                        on_start(job)
                    else:
                        by_index[job.index] = done
                        finished(job, done, lane)
        finally:
            # Appended as they finished; kept in the schedule's order, as one
            # lane would have written them (the tables list clients in it).
            in_order = [by_index[i] for i in sorted(by_index)]
            if in_order != records:
                log.rewrite(in_order)
        return in_order
    here = Machine.here()
    with server_for(plan) as (base, server):
        for job in schedule(plan):
            on_start(job)
            with observing(observe(job)):
                if own_process:
                    runner = functools.partial(in_own_process, observer=observe(job))
                    record = run_one(plan, job, base, server, here, runner=runner)
                else:
                    record = run_one(plan, job, base, server, here)
            finished(job, record, server)
    return records
