"""Collects a run's attempts and log lines, safely from any thread or task."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from clients.infra import loglines
from clients.infra.records import Attempt, ClientRun, Outcome

Clock = Callable[[], float]
OnLine = Callable[[str], None]


class Observer(Protocol):
    """Watches every recorder built while it is installed (`observing`): the bench's
    live view. Called on the client's threads or event loop, so it must be quick.

    It is told what happens, never the log's text: `sending` when an attempt goes on
    the wire (`attempt` counts from 0), `sleeping` when a request sleeps `seconds`
    scenario seconds after a refusal before its next attempt, `attempt` when an
    attempt's outcome is recorded."""

    def started(self, client: str, n: int, clock: Clock, started: float) -> None: ...

    def sending(self, client: str, request: int, attempt: int) -> None: ...

    def sleeping(self, client: str, request: int, seconds: float) -> None: ...

    def attempt(self, client: str, record: Attempt) -> None: ...


# The observer of each thread that builds recorders: the bench runs several
# runs at once, each in a thread of its own, each watched by its own observer.
_installed = threading.local()


@contextlib.contextmanager
def observing(observer: Observer | None) -> Iterator[Observer | None]:
    """Install `observer` for the recorders this thread builds inside the block."""
    previous = getattr(_installed, "observer", None)
    _installed.observer = observer
    try:
        yield observer
    finally:
        _installed.observer = previous


class Recorder:
    """The run's clock, its attempt list and its log.

    The run starts when the recorder is built: `started` is the raw clock
    reading (time.monotonic() unless a test injects another clock) and every
    time it hands out is seconds since then. Its log lines give times in
    scenario seconds (wall seconds / `time_scale`), the unit of the retry
    sleeps they also print. `record` and `line` take a lock, so worker
    threads may call them concurrently and lines never interleave.
    """

    def __init__(
        self,
        client: str,
        n: int,
        on_line: OnLine | None = None,
        clock: Clock = time.monotonic,
        time_scale: float = 1.0,
    ) -> None:
        self.client = client
        self.n = n
        self.clock = clock
        self.time_scale = time_scale
        self.started = clock()
        self._on_line = on_line
        self._attempts: list[Attempt] = []
        self._lock = threading.Lock()
        # Read once: with no observer installed (every run but a live bench)
        # recording costs one `is None` test more.
        self._observer: Observer | None = getattr(_installed, "observer", None)
        if self._observer is not None:
            self._observer.started(client, n, clock, self.started)

    def now(self) -> float:
        """Seconds since the run's start."""
        return self.clock() - self.started

    def scenario(self, t: float) -> float:
        """`t`, wall seconds since the start, in scenario seconds: a log line's time."""
        return t / self.time_scale

    def scenario_now(self) -> float:
        return self.scenario(self.now())

    def line(self, text: str) -> None:
        """Hand one log line to `on_line`, one caller at a time."""
        if self._on_line is not None:
            with self._lock:
                self._on_line(text)

    # The lines of each attempt are written only if someone reads them: most
    # runs (the bench's) pass no `on_line`, and a success's line prints its body.

    def sending(self, request: int, attempt: int, sent: float) -> None:
        """Attempt `attempt` of `request` goes on the wire at `sent`: the write-up's
        "Sending" line, and the event an observer is told."""
        if self._observer is not None:
            self._observer.sending(self.client, request, attempt)
        if self._on_line is not None:
            self.line(loglines.sending(request, self.scenario(sent)))

    def sleeping(self, request: int, finished: float, seconds: float) -> None:
        """`request` was refused at `finished` and sleeps `seconds` scenario seconds
        before retrying: the write-up's "retry in" line, and the observer's event."""
        if self._observer is not None:
            self._observer.sleeping(self.client, request, seconds)
        if self._on_line is not None:
            self.line(loglines.fail_retry(request, self.scenario(finished), seconds))

    def succeeded(self, request: int, finished: float, body: object) -> None:
        """`request` came back `ok` at `finished` with `body`: the "SUCCESS" line."""
        if self._on_line is not None:
            self.line(loglines.success(request, self.scenario(finished), body))

    def gave_up(self, request: int, finished: float) -> None:
        """`request`'s last attempt failed at `finished`: the "hit max retry limit" line."""
        if self._on_line is not None:
            self.line(loglines.fail_final(request, self.scenario(finished)))

    def record(
        self,
        request: int,
        attempt: int,
        *,
        queued: float,
        sent: float,
        finished: float,
        status: int | None,
        outcome: Outcome,
        limiter_wait: float = 0.0,
        pool_wait: float = 0.0,
    ) -> Attempt:
        record = Attempt(
            request=request,
            attempt=attempt,
            queued=queued,
            sent=sent,
            finished=finished,
            status=status,
            outcome=outcome,
            limiter_wait=limiter_wait,
            pool_wait=pool_wait,
        )
        with self._lock:
            self._attempts.append(record)
        if self._observer is not None:
            self._observer.attempt(self.client, record)
        return record

    def result(self) -> ClientRun:
        """The run so far, attempts in order of request and attempt number.

        `makespan` is the run's start to its last finished attempt (0.0 if
        nothing was sent).
        """
        with self._lock:
            attempts = list(self._attempts)
        return ClientRun.of(self.client, self.n, self.started, attempts)
