"""Any program as a bench client: a shell command, timed like hyperfine, judged by the server.

A foreign program writes no records, so everything about its requests comes
from the mock server's own log: the makespan is the first arrival to the last
response, and each logged request becomes one attempt of its own (the server
cannot tell a retry from a new request). The process itself is timed as
hyperfine times it: wall, user and system seconds of the shell and all it
waited for, start-up included, and its exit status.

The server's address reaches the program through the environment
(`command_env`); a program that hangs, or never calls the server, is killed
(its whole process group) at the run's deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bench.records.results import CommandRun, RunRecord, ServerEntry, server_entries
from clients.infra.records import Attempt, Outcome

if TYPE_CHECKING:
    from bench.records.results import Machine, SweepPoint
    from bench.running.plan import BenchPlan, Job
    from mock_server.processes.server import MockServer

#: Wall seconds a command gets beyond the run's deadline: its start-up (an
#: interpreter, imports) is not the batch's time, but must not be cut short.
STARTUP_SLACK = 5.0
#: Lines of stderr kept as a failed run's reason.
STDERR_LINES = 3
POLL = 0.005


def command_env(
    base: str,
    n: int,
    time_scale: float,
    requests: str | None = None,
    api_key: str | None = None,
) -> dict[str, str]:
    """The variables that tell a program where the server is and what batch to send
    (`RATEBENCH_REQUESTS`: with an LLM API, the request set theory's bound is for, one
    JSON body a line in that API's format; `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL` and
    `GOOGLE_GEMINI_BASE_URL`, what each SDK reads), and the key to present
    (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY` and `GEMINI_API_KEY`: the bench's
    `--api-key`, else whatever the environment has, else a placeholder, as the SDKs
    insist on one)."""
    env = dict(os.environ)
    if requests is not None:
        env["RATEBENCH_REQUESTS"] = requests
    env.update(
        RATEBENCH_URL=base,
        RATEBENCH_CHAT_URL=f"{base}/chat",
        OPENAI_BASE_URL=f"{base}/v1",
        # The anthropic SDK adds /v1/messages itself, google-genai /v1beta/models/...
        ANTHROPIC_BASE_URL=base,
        GOOGLE_GEMINI_BASE_URL=base,
        RATEBENCH_N=str(n),
        RATEBENCH_TIME_SCALE=f"{time_scale:g}",
    )
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        if api_key:
            env[name] = api_key
        env.setdefault(name, "placeholder")
    if api_key and "GOOGLE_API_KEY" in env:  # google-genai reads it before GEMINI_API_KEY
        env["GOOGLE_API_KEY"] = api_key
    return env


def attempts_from_log(
    entries: tuple[ServerEntry, ...],
) -> tuple[float, float, tuple[Attempt, ...]]:
    """(start, makespan, attempts) from the server's log: start the first arrival, makespan
    to the last response, one attempt per logged request (request number = its order)."""
    # A method the endpoint does not take (a HEAD or OPTIONS probe, say) is
    # not a request of the batch: the limiter never saw it.
    entries = tuple(e for e in entries if not (e.status == 405 and not e.accepted))
    if not entries:
        return time.monotonic(), 0.0, ()
    start = min(e.arrival for e in entries)
    attempts = []
    end = start
    for i, e in enumerate(sorted(entries, key=lambda e: e.arrival)):
        gone = e.left is None and e.disconnected is not None
        left = e.disconnected if gone else e.left if e.left is not None else e.decided
        outcome: Outcome
        if gone:
            outcome = "timeout"  # the program went before its answer was handed over
        elif e.status == 200:
            outcome = "ok"
        elif e.status == 429:
            outcome = "rate_limited"
        elif left is None:
            outcome = "timeout"  # the server never answered it
        else:
            outcome = "error"
        sent = e.arrival - start
        finished = sent if left is None else max(sent, left - start)
        end = max(end, start + finished)
        attempts.append(Attempt(i, 0, sent, sent, finished, e.status, outcome))
    return start, end - start, tuple(attempts)


def tail(text: str, lines: int = STDERR_LINES) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(nothing on stderr)"


def run_process(
    command: str, env: Mapping[str, str], timeout: float
) -> tuple[CommandRun, bool, str]:
    """Run `command` through the shell: (times, whether it was killed at `timeout`, stderr).

    The shell leads a new process group, so that a kill reaches everything it
    started; os.wait4 gives the rusage of the shell and every child it waited
    for, as hyperfine reports. Ctrl-C (any BaseException) kills the group too.
    """
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(
            command,
            shell=True,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        killed = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - began > timeout:
                    killed = True
                    _kill_group(proc.pid)
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(POLL)
        except BaseException:
            _kill_group(proc.pid)
            with contextlib.suppress(ChildProcessError):
                os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise
        wall = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped here: Popen must not wait for it again
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    timing = CommandRun(command, wall, usage.ru_utime, usage.ru_stime, code)
    return timing, killed, stderr


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_command(
    plan: BenchPlan,
    job: Job,
    command: str,
    base: str,
    server: MockServer | None,
    machine: Machine,
    sweep: SweepPoint | None = None,
) -> RunRecord:
    """One run of a shell command against a freshly reset server, as a RunRecord.

    Failed (with its reason): a non-zero exit (the last lines of stderr), a
    kill at the deadline, no request at all, or the server misbehaving.
    """
    from bench.running.plan import fault_reason, server_failure
    from mock_server.processes.server import ServerError, fetch_log, reset_server

    scenario = plan.scenario
    config = plan.client_config(f"{base}/chat")

    def record(
        wall_start: float,
        entries: tuple[ServerEntry, ...],
        reason: str | None,
        timing: CommandRun | None,
    ) -> RunRecord:
        started, makespan, attempts = attempts_from_log(entries)
        return RunRecord(
            client=job.client,
            run=job.run,
            seed=job.seed,
            scenario=scenario,
            config=config,
            overrides=tuple(name for name, _ in plan.overrides),
            machine=machine,
            wall_start=wall_start,
            started=started,
            makespan=makespan,
            attempts=attempts,
            server_log=entries,
            status="ok" if reason is None else "failed",
            reason=reason,
            sweep=sweep,
            command=timing or CommandRun(command, 0.0, 0.0, 0.0, 0),
        )

    try:
        reset_server(base, seed=job.seed)
    except ServerError as exc:
        return record(time.time(), (), server_failure(server, "before the run", exc), None)
    timeout = config.deadline * scenario.time_scale + STARTUP_SLACK
    wall_start = time.time()
    timing, killed, stderr = run_process(
        command,
        command_env(base, scenario.n, scenario.time_scale, scenario.requests, plan.api_key),
        timeout,
    )
    try:
        entries = server_entries(fetch_log(base)["entries"])
    except ServerError as exc:
        return record(wall_start, (), server_failure(server, "during the run", exc), timing)
    reason: str | None
    if killed:
        reason = (
            f"killed after {timeout:.1f} s (the run's deadline, --deadline "
            f"{config.deadline:g} scenario s, plus {STARTUP_SLACK:g} s for start-up), "
            f"{len(entries)} requests in the server's log"
        )
    elif timing.exit_code != 0:
        reason = f"exit status {timing.exit_code}: {tail(stderr)}"
    elif not entries:
        reason = (
            "the command made no request to the server: it should read "
            "RATEBENCH_CHAT_URL, OPENAI_BASE_URL, ANTHROPIC_BASE_URL or GOOGLE_GEMINI_BASE_URL "
            "from its environment"
        )
    else:
        _, _, attempts = attempts_from_log(entries)
        reason = fault_reason(attempts)
    return record(wall_start, entries, reason, timing)
