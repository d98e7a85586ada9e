"""`--client-procs P`: one batch split over P client processes, started together.

This is how evaluation platforms scale out: P worker processes, each with a
share of the requests and its own event loop, all drawing on one API quota.
With a limiter in each process (`token_bucket`), the processes together send
P times the rate; with `shared_window` they share one limit through Redis.

Process p gets the requests `p, p + P, p + 2P, ...` of the batch, so that
every process has work until the end. Each child is `python -m clients.infra.procs`,
fed its job as one JSON line on stdin; it imports everything, says `ready`,
and starts its batch when the parent writes `go` to all of them at once. It
sends back its log lines as they come and its attempts at the end; the
parent puts the attempts on one clock (the run starts at the earliest child
start, on `time.monotonic()`, which all processes share) and renumbers the
requests, so the result is one `ClientRun` like any other client's.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import Clock, Observer, OnLine
from clients.infra.records import Attempt, ClientRun, ProcessUsage
from mock_server.vocabulary import RatebenchError

MAX_PROCS = 64
#: The discard port, refused at once on a machine that runs no discard service, and
#: the wall seconds a child's dry run may take (`child_main`).
NOTHING_LISTENS = 9
DRY_RUN_SECONDS = 0.2
# How long a child has to print what it completed after SIGTERM before it is killed
# (its event loop cancels every task first). With 3 s, a child on a 2-core machine
# under three busy loops was killed first in 2 of 8 tries, its completed requests
# missing from the run; with 10 s, in none of 10.
STOP_GRACE = 10.0


class Signalled(KeyboardInterrupt):
    """SIGTERM, SIGHUP or Ctrl-C (`signum`), raised where the run was, so that it
    unwinds like Ctrl-C: child processes stopped, what was completed kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_signalled(signum: int, frame: object) -> None:
    """A signal handler: raise `Signalled` (see `quiet_unwinding`)."""
    quiet_unwinding()
    raise Signalled(signum)


class Stopped(Signalled):
    """The run was interrupted by `signum`; `run` holds what was completed by then."""

    def __init__(self, signum: int, run: ClientRun) -> None:
        super().__init__(signum)
        self.run = run


class Collector:
    """An Observer (clients.infra.recorder) keeping the attempts of the run being
    made, so that an interrupted run can still say what it completed."""

    def __init__(self) -> None:
        self.client = ""
        self.n = 0
        self.t0 = 0.0
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def started(self, client: str, n: int, clock: Clock, started: float) -> None:
        self.client, self.n, self.t0 = client, n, started

    def sending(self, client: str, request: int, attempt: int) -> None:
        pass

    def sleeping(self, client: str, request: int, seconds: float) -> None:
        pass

    def attempt(self, client: str, record: Attempt) -> None:
        with self._lock:
            self.attempts.append(record)

    def run(self, client: str, n: int) -> ClientRun:
        with self._lock:
            attempts = list(self.attempts)
        return ClientRun.of(self.client or client, self.n or n, self.t0, attempts)


class Relay(Collector):
    """The child's observer: keeps the attempts (as `Collector`) and writes every
    event to the parent as one `event ...` line on stdout."""

    def __init__(self) -> None:
        super().__init__()
        self._out = threading.Lock()

    def _write(self, text: str) -> None:
        with self._out:  # one whole line at a time, whichever thread
            tell_parent(f"event {text}")

    def started(self, client: str, n: int, clock: Clock, started: float) -> None:
        super().started(client, n, clock, started)
        self._write(f"started {started!r}")

    def sending(self, client: str, request: int, attempt: int) -> None:
        self._write(f"sending {request} {attempt}")

    def sleeping(self, client: str, request: int, seconds: float) -> None:
        self._write(f"sleeping {request} {seconds!r}")

    def attempt(self, client: str, record: Attempt) -> None:
        super().attempt(client, record)
        self._write(f"attempt {json.dumps(record.to_dict())}")


class Relayed:
    """The parent's side of `Relay`: each child's events handed to `observer`, its
    request numbers made the batch's. Child clocks are `time.monotonic()`, which
    every process on the machine shares."""

    def __init__(self, observer: Observer, client: str, n: int, parts: list[list[int]]) -> None:
        self.observer = observer
        self.client = client
        self.n = n
        self.parts = parts
        self._started = False
        self._lock = threading.Lock()

    def event(self, index: int, text: str) -> None:
        kind, _, rest = text.partition(" ")
        requests = self.parts[index]
        with self._lock:
            if kind == "started" and not self._started:
                self._started = True
                self.observer.started(self.client, self.n, time.monotonic, float(rest))
            elif kind == "sending":
                request, attempt = rest.split()
                self.observer.sending(self.client, requests[int(request)], int(attempt))
            elif kind == "sleeping":
                request, seconds = rest.split()
                self.observer.sleeping(self.client, requests[int(request)], float(seconds))
            elif kind == "attempt":
                record = Attempt.from_dict(json.loads(rest))
                self.observer.attempt(
                    self.client, replace(record, request=requests[record.request])
                )


def split(n: int, procs: int) -> list[list[int]]:
    """Request indices of each process: round-robin, none left empty."""
    procs = min(procs, n)
    return [list(range(p, n, procs)) for p in range(procs)]


def label(name: str, procs: int) -> str:
    """How a run of `name` over `procs` processes is named in records."""
    return name if procs == 1 else f"{name}_x{procs}"


def run_procs(
    name: str,
    config: ClientConfig,
    procs: int,
    on_line: OnLine | None = None,
    start_timeout: float = 60.0,
    observer: Observer | None = None,
    before_go: Callable[[], None] | None = None,
) -> ClientRun:
    """Run `name` in `procs` processes over `config.n` requests; blocks until all end.

    `observer` (the bench's live view) is told what the children's recorders
    see, as it would be by a recorder in this process: each child relays its
    events, request numbers made global. `before_go` is called once every
    child is ready (its client's libraries imported, by a run against a port
    nothing listens on), just before they are told to go: the bench lines up
    its lanes' first runs there. Raises ConfigError if `procs` is out of
    range or a child fails to start or to report.
    """
    if not 1 <= procs <= MAX_PROCS:
        raise ConfigError(f"--client-procs {procs} must be between 1 and {MAX_PROCS}")
    parts = split(config.n, procs)
    children: list[subprocess.Popen[str]] = []
    try:
        for index, requests in enumerate(parts):
            job = {
                "name": name,
                "index": index,
                "lines": on_line is not None,
                "events": observer is not None,
                "config": asdict(replace(config, n=len(requests))),
            }
            child = subprocess.Popen(
                [sys.executable, "-m", __name__],  # this module, as installed
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert child.stdin is not None
            child.stdin.write(json.dumps(job) + "\n")
            child.stdin.flush()
            children.append(child)
        for index, child in enumerate(children):
            assert child.stdout is not None
            first = child.stdout.readline().strip()
            if first != "ready":
                raise ConfigError(f"client process {index} did not start: {first or 'no output'}")
        if before_go is not None:
            before_go()
        for child in children:  # as close to together as the parent can
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results: list[dict[str, Any] | None] = [None] * len(children)
        errors: list[str | None] = [None] * len(children)
        lock = threading.Lock()
        relay = Relayed(observer, name, config.n, parts) if observer is not None else None

        def read(index: int, child: subprocess.Popen[str]) -> None:
            assert child.stdout is not None
            for raw in child.stdout:
                kind, _, rest = raw.rstrip("\n").partition(" ")
                if kind == "event" and relay is not None:
                    relay.event(index, rest)
                elif kind == "line" and on_line is not None:
                    with lock:
                        on_line(f"[proc {index}] {rest}" if len(parts) > 1 else rest)
                elif kind == "result":
                    results[index] = json.loads(rest)
                elif kind == "error":
                    errors[index] = rest

        readers = [
            threading.Thread(target=read, args=(i, c), daemon=True) for i, c in enumerate(children)
        ]
        for reader in readers:
            reader.start()
        try:
            for reader, child in zip(readers, children, strict=True):
                reader.join()
                child.wait()
        except KeyboardInterrupt as exc:
            # Each child answers SIGTERM with what it completed; then the run so far.
            signum = getattr(exc, "signum", signal.SIGINT)
            _stop(children)
            for reader in readers:
                reader.join(timeout=STOP_GRACE)
            done = [
                (ClientRun.from_dict(r), part)
                for r, part in zip(results, parts, strict=True)
                if r is not None
            ]
            run = (
                merge(label(name, len(parts)), config.n, [d[0] for d in done], [d[1] for d in done])
                if done
                else ClientRun(label(name, len(parts)), config.n, 0.0, (), 0.0)
            )
            raise Stopped(signum, run) from None
    finally:
        _stop(children)
        for child in children:
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        said = errors[missing[0]]
        raise ConfigError(said or f"client process {missing[0]} ended without a result")
    runs = [ClientRun.from_dict(r) for r in results if r is not None]
    return merge(label(name, len(parts)), config.n, runs, parts)


def _stop(children: list[subprocess.Popen[str]]) -> None:
    """SIGTERM every child still running, wait up to STOP_GRACE, then SIGKILL."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def merge(client: str, n: int, runs: list[ClientRun], parts: list[list[int]]) -> ClientRun:
    """One run from the runs of the processes: one clock, global request numbers."""
    started = min(run.started for run in runs)
    attempts: list[Attempt] = []
    for run, requests in zip(runs, parts, strict=True):
        shift = run.started - started
        for a in run.attempts:
            attempts.append(
                replace(
                    a,
                    request=requests[a.request],
                    queued=a.queued + shift,
                    sent=a.sent + shift,
                    finished=a.finished + shift,
                )
            )
    attempts.sort(key=lambda a: (a.request, a.attempt))
    makespan = max((a.finished for a in attempts), default=0.0)
    usages = [run.usage for run in runs if run.usage is not None]
    # Several processes: their CPU and their peaks added up (each peak is its own).
    usage = (
        ProcessUsage(sum(u.cpu_seconds for u in usages), sum(u.peak_rss_mb for u in usages))
        if usages and len(usages) == len(runs)
        else None
    )
    return ClientRun(
        client=client,
        n=n,
        started=started,
        attempts=tuple(attempts),
        makespan=makespan,
        usage=usage,
    )


def child_main() -> int:  # pragma: no cover - runs in the child processes
    from clients import run_client
    from clients.infra.recorder import observing

    # If the parent is killed outright, its children must not run on.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    signal.signal(signal.SIGTERM, raise_signalled)
    signal.signal(signal.SIGHUP, raise_signalled)
    # Ctrl-C reaches the whole process group: the parent decides, the child
    # waits for its SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    job = json.loads(sys.stdin.readline())
    config = ClientConfig(**job["config"])

    # A run against a port nothing listens on, before saying ready: the client's
    # libraries (aiohttp, an SDK) are imported now, not once the batch has begun.
    dry = replace(
        config,
        url=f"http://127.0.0.1:{NOTHING_LISTENS}/chat",
        attempts=1,
        deadline=DRY_RUN_SECONDS / config.time_scale,
    )
    with contextlib.suppress(Exception):  # what it meets, the real run meets and reports
        run_client(job["name"], dry)

    def line(text: str) -> None:
        tell_parent(f"line {text}")

    tell_parent("ready")
    if sys.stdin.readline().strip() != "go":
        return 1
    collector = Relay() if job.get("events") else Collector()
    before = cpu_seconds()
    try:
        with observing(collector):
            run = run_client(job["name"], config, line if job["lines"] else None)
    except RatebenchError as exc:  # the client refused its config: one line, no traceback
        tell_parent(f"error {exc}")
        return 2
    except KeyboardInterrupt:
        run = collector.run(job["name"], config.n)
        tell_parent(f"result {json.dumps(run.to_dict())}")
        return 128 + signal.SIGTERM
    run = replace(run, usage=ProcessUsage(cpu_seconds() - before, peak_rss_mb()))
    tell_parent(f"result {json.dumps(run.to_dict())}")
    return 0


def cpu_seconds() -> float:
    """This process's user + system CPU seconds so far, all its threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tell_parent(text: str) -> None:
    """One whole line to the parent, in one write. A parent that is gone (the
    bench left on Ctrl-C) hears nothing more: the rest goes nowhere, quietly,
    rather than as a BrokenPipeError traceback on the terminal they share."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def quiet_unwinding() -> None:
    """The interrupt unwinds through the event loop, whose half-finished tasks
    would each log a traceback, and a request interrupted between making its
    coroutine and awaiting it would warn that it was never awaited; the run's
    one-line message says it all."""
    logging.getLogger("asyncio").disabled = True
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited")


if __name__ == "__main__":  # pragma: no cover
    try:
        sys.exit(child_main())
    except KeyboardInterrupt:  # stopped before its batch began: nothing to report
        sys.exit(128 + signal.SIGTERM)
