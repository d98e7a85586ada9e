"""The live view of `python -m bench` on a terminal: the run in progress, as it happens.

The bench runs each client in this process, so the view watches each
run's recorder (`clients.infra.recorder.observing`), which tells it when
an attempt goes on the wire (`sending`), each recorded attempt's outcome,
and each sleep after a 429 (`sleeping`); it never reads the log. From
those it keeps each request's state, a meter of sends in the limit's
current window against the limit, and the runs finished so far. With runs
side by side (`--jobs`), one line per run in flight instead of the whole run.

Up to `GLYPH_LIMIT` requests the view draws one glyph per request; past it,
counts and bars only, so 10 requests and 10,000 read alike. Without a
terminal (CI, a pipe, the tests) the bench prints its progress lines as
before and none of this runs.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.endpoints.registry import endpoint_for
from clients.infra.records import Attempt

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress

    from bench.endpoints.base import Meter
    from bench.records.results import RunRecord
    from bench.running.plan import BenchPlan, Job

Clock = Callable[[], float]

#: The states of a request, in the order the view lists them.
STATES = ("waiting", "in flight", "sleeping", "done", "failed")
STATE_LABELS = {
    "waiting": "waiting (limiter or a worker)",
    "in flight": "in flight",
    "sleeping": "sleeping before a retry",
    "done": "done (200)",
    "failed": "gave up",
}
STATE_STYLES = {
    "waiting": "blue",
    "in flight": "yellow",
    "sleeping": "magenta",
    "done": "green",
    "failed": "red",
}
GLYPHS = {"waiting": "·", "in flight": "▶", "sleeping": "z", "done": "█", "failed": "✗"}
GLYPH_LIMIT = 200
GLYPHS_PER_LINE = 50
BAR_WIDTH = 30


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The run in progress at one instant; times in wall seconds since its start."""

    client: str
    n: int
    elapsed: float
    states: tuple[str, ...]  # one per request
    rejections: int
    window_sends: int
    window_index: int
    #: Each limit on tokens: charged in this window, or under buckets what its
    #: bucket holds (`levels`, requests first, then each limit on tokens).
    window_tokens: tuple[int, ...] = ()
    levels: tuple[float, ...] = ()
    #: Under a daily quota: the sends of the day the run is in, and that day (from 0).
    day_sends: int = 0
    day_index: int = 0


class RunWatch:
    """Each request's state in the run in progress, fed from the client's threads.

    Implements `clients.infra.recorder.Observer`. Every method takes the lock
    and does a few dictionary updates, so the client barely notices.
    """

    def __init__(
        self,
        time_scale: float,
        window: float,
        clock: Clock = time.monotonic,
        charges: tuple[tuple[int, ...], ...] = (),
        capacities: tuple[int, ...] = (),
        day: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.time_scale = time_scale
        self.window = window * time_scale  # wall seconds
        # A daily quota's day and when the first one ends, wall seconds ((0, 0): none).
        self.day_length, self.day_first_end = (d * time_scale for d in day)
        # Per limit on tokens, each request's charge (none on /chat).
        self.charges = charges
        # Under buckets: each bucket's capacity, requests first (its refill: that
        # much a window); () under windows.
        self.capacities = capacities
        self._clock = clock
        self._lock = threading.Lock()
        self._reset("", 0, 0.0)

    def _reset(self, client: str, n: int, started: float) -> None:
        self.client = client
        self.n = n
        self.run_start = started
        self._state: dict[int, str] = {}
        self._sleep_until: dict[int, float] = {}
        self._sends: list[float] = []
        self._requests: list[int] = []  # the request of each send, in step with _sends
        self.rejections = 0

    # -- the recorder's observer ------------------------------------------------

    def started(self, client: str, n: int, clock: Clock, started: float) -> None:
        with self._lock:
            self._clock = clock
            self._reset(client, n, started)

    def sending(self, client: str, request: int, attempt: int) -> None:
        now = self._clock()
        with self._lock:
            self._state[request] = "in flight"
            self._sends.append(now - self.run_start)
            self._requests.append(request)

    def sleeping(self, client: str, request: int, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            self._state[request] = "sleeping"
            self._sleep_until[request] = now + seconds * self.time_scale

    def attempt(self, client: str, record: Attempt) -> None:
        with self._lock:
            if record.outcome == "rate_limited":
                self.rejections += 1
            if record.outcome == "ok":
                self._state[record.request] = "done"
            elif self._state.get(record.request) == "in flight":
                # `sleeping` follows if it retries; an SDK client retries unseen, so
                # it reads as given up until its next `sending`.
                self._state[record.request] = "failed"

    # -- what the view draws -----------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self._clock()
        with self._lock:
            states = []
            for request in range(self.n):
                state = self._state.get(request, "waiting")
                if state == "sleeping" and now >= self._sleep_until.get(request, now):
                    state = "waiting"  # slept; now held by the limiter or a worker
                states.append(state)
            elapsed = max(0.0, now - self.run_start)
            sends = self._sends
            # The server's fixed window opens with the first request it sees.
            origin = sends[0] if sends else 0.0
            index = int((elapsed - origin) // self.window) if sends and self.window > 0 else 0
            start = origin + index * self.window
            in_window = [i for i, s in enumerate(sends) if s >= start]
            tokens = tuple(
                sum(self._charge(limit, self._requests[i]) for i in in_window)
                for limit in self.charges
            )
            day = self._day(elapsed)
            return Snapshot(
                self.client,
                self.n,
                elapsed,
                tuple(states),
                self.rejections,
                len(in_window),
                index,
                tokens,
                self._levels(elapsed),
                sum(1 for s in sends if self._day(s) == day) if self.day_length else 0,
                day,
            )

    def _day(self, elapsed: float) -> int:
        """The day (from 0) of a daily quota that `elapsed` wall seconds fall in."""
        if not self.day_length or elapsed < self.day_first_end:
            return 0
        return 1 + int((elapsed - self.day_first_end) // self.day_length)

    def _charge(self, charges: tuple[int, ...], request: int) -> int:
        return charges[request] if request < len(charges) else 0

    def _levels(self, elapsed: float) -> tuple[float, ...]:
        """What each bucket holds at `elapsed`, from every send since the run started
        (each charged its request's costs; full at the start, as the server's)."""
        if not self.capacities or self.window <= 0:
            return ()
        levels = []
        for k, capacity in enumerate(self.capacities):
            rate = capacity / self.window
            full = 0.0
            for sent, request in zip(self._sends, self._requests, strict=True):
                cost = 1 if k == 0 else self._charge(self.charges[k - 1], request)
                full = max(full, sent) + cost / rate
            levels.append(capacity - max(0.0, full - elapsed) * rate)
        return tuple(levels)


def _bar(count: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = 0 if total <= 0 else round(width * count / total)
    return "█" * filled + "░" * (width - filled)


def render_run(snap: Snapshot, meter: Meter, time_scale: float) -> Any:
    """The panel of the run in progress: meters, states, and the requests themselves."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    counts = Counter(snap.states)
    limit_count = meter.requests
    meters: list[Any] = []
    if snap.levels:
        # Buckets: what each holds now; a bucket below empty (output charged as
        # produced may overdraw it) is drawn red.
        names = [("requests", limit_count, meter.text)] + [
            (t.what, t.limit, t.text) for t in meter.tokens
        ]
        for (what, capacity, text), level in zip(names, snap.levels, strict=True):
            held = max(0, math.floor(level))
            meters.append(
                Text.assemble(
                    (f"{what} bucket ", "bold"),
                    (_bar(min(held, capacity), capacity), "red" if level < 0 else "cyan"),
                    (f" {held}/{capacity}", "bold"),
                    (f"  (held now, limit {text})", "dim"),
                )
            )
    else:
        over = snap.window_sends > limit_count
        meters.append(
            Text.assemble(
                ("sends in this window ", "bold"),
                (
                    _bar(
                        min(snap.window_sends, limit_count),
                        limit_count,
                        2 * limit_count if limit_count <= 15 else BAR_WIDTH,
                    ),
                    "red" if over else "cyan",
                ),
                (f" {snap.window_sends}/{limit_count}", "bold red" if over else "bold"),
                (f"  (window {snap.window_index + 1}, limit {meter.text})", "dim"),
            )
        )
        for token_meter, used in zip(meter.tokens, snap.window_tokens, strict=False):
            limit = token_meter.limit
            too_many = used > limit
            meters.append(
                Text.assemble(
                    (f"{token_meter.what} in this window ", "bold"),
                    (_bar(min(used, limit), limit), "red" if too_many else "cyan"),
                    (f" {used}/{limit}", "bold red" if too_many else "bold"),
                    # Short enough to hold one line in a 100-column terminal; each send
                    # counts what the server charges it at admission.
                    (f"  (limit {token_meter.text})", "dim"),
                )
            )
    if meter.day_requests is not None:
        day_limit = meter.day_requests
        full = snap.day_sends >= day_limit
        meters.append(
            Text.assemble(
                ("sends today ", "bold"),
                (_bar(min(snap.day_sends, day_limit), day_limit), "magenta" if full else "cyan"),
                (f" {snap.day_sends}/{day_limit}", "bold"),
                (f"  (day {snap.day_index + 1}, limit {day_limit} RPD)", "dim"),
            )
        )
    table = Table.grid(padding=(0, 1))
    for state in STATES:
        table.add_row(
            Text(STATE_LABELS[state], style=STATE_STYLES[state]),
            Text(f"{counts[state]:>6}"),
            Text(_bar(counts[state], snap.n), style=STATE_STYLES[state]),
        )
    table.add_row(
        Text("429s received so far", style="bold red"), Text(f"{snap.rejections:>6}"), Text("")
    )
    parts: list[Any] = [*meters, table]
    if snap.n <= GLYPH_LIMIT:
        glyphs = Text()
        for i, state in enumerate(snap.states):
            if i and i % GLYPHS_PER_LINE == 0:
                glyphs.append("\n")
            glyphs.append(GLYPHS[state], style=STATE_STYLES[state])
        parts.append(glyphs)
    else:
        parts.append(
            Text(
                f"{snap.n} requests: counts only (one glyph each up to {GLYPH_LIMIT})", style="dim"
            )
        )
    title = f"{snap.client} · {snap.elapsed / time_scale:.1f} s (scenario) · {snap.n} requests"
    return Panel(Group(*parts), title=title, title_align="left")


def render_summary(records: list[RunRecord]) -> Any:
    """The runs finished so far, per client: runs, median makespan, 429s per run."""
    from rich.table import Table

    table = Table(title="finished so far", title_justify="left", expand=False)
    for column in ("client", "runs", "median makespan (s)", "429s per run", "failed"):
        table.add_column(column, justify="left" if column == "client" else "right")
    by_client: dict[str, list[RunRecord]] = {}
    for record in records:
        by_client.setdefault(record.client, []).append(record)
    for client, runs in by_client.items():
        ok = [r for r in runs if r.ok]
        table.add_row(
            client,
            str(len(runs)),
            f"{statistics.median(r.seconds for r in ok):.2f}" if ok else "–",
            f"{statistics.fmean(r.rejections for r in ok):.1f}" if ok else "–",
            str(len(runs) - len(ok)),
        )
    return table


def render_lanes(snaps: list[tuple[Job, Snapshot]], time_scale: float) -> Any:
    """The runs in progress side by side: one line each (client, run, scenario seconds,
    a bar of its requests by state, its 429s so far)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="runs in flight", title_justify="left", expand=False, box=None)
    for column in ("client", "run", "s", "requests", "done", "429s"):
        table.add_column(column, justify="left" if column in ("client", "requests") else "right")
    for job, snap in sorted(snaps, key=lambda pair: pair[0].index):
        counts = Counter(snap.states)
        bar = Text()
        for state in STATES:
            width = 0 if snap.n == 0 else round(BAR_WIDTH * counts[state] / snap.n)
            bar.append(GLYPHS[state] * width, style=STATE_STYLES[state])
        table.add_row(
            job.client,
            str(job.run + 1),
            f"{snap.elapsed / time_scale:.1f}",
            bar,
            f"{counts['done']}/{snap.n}",
            str(snap.rejections),
        )
    return table


def watch_for(meter: Meter, time_scale: float, clock: Clock = time.monotonic) -> RunWatch:
    """The observer of one run against `meter`'s limits."""
    capacities = (meter.requests, *(t.limit for t in meter.tokens)) if meter.bucket else ()
    return RunWatch(
        time_scale,
        meter.window,
        clock,
        charges=tuple(t.charges for t in meter.tokens),
        capacities=capacities,
        day=(meter.day_length, meter.day_first_end),
    )


class LiveView:
    """The bench's display on a terminal: its progress bar, the runs in progress, the
    summary. One run in flight is drawn whole (meters, states, its requests); several,
    one line each."""

    def __init__(
        self,
        console: Console,
        plan: BenchPlan,
        progress: Progress | None = None,
        refresh_per_second: float = 8.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.console = console
        self.plan = plan
        self.progress = progress
        self.refresh_per_second = refresh_per_second
        self.clock = clock
        self.meter = endpoint_for(plan.scenario).meter(plan.scenario)
        self.watches: dict[int, tuple[Job, RunWatch]] = {}  # by job index, while it runs
        self.records: list[RunRecord] = []

    def watch(self, job: Job) -> RunWatch:
        """The observer of `job`'s run: the recorder its client builds tells it everything."""
        watch = watch_for(self.meter, self.plan.scenario.time_scale, self.clock)
        self.watches[job.index] = (job, watch)
        return watch

    def __rich__(self) -> RenderableType:
        from rich.console import Group

        meter = self.meter
        scale = self.plan.scenario.time_scale
        parts: list[Any] = []
        if self.progress is not None:
            parts.append(self.progress)
        running = [(job, w.snapshot()) for job, w in list(self.watches.values()) if w.client]
        if len(running) == 1:
            [(_, snap)] = running
            parts.append(render_run(snap, meter, scale))
        elif running:
            parts.append(render_lanes(running, scale))
        if self.records:
            parts.append(render_summary(self.records))
        return Group(*parts)

    def on_start(self, job: Job) -> None:
        pass

    def on_done(self, job: Job, record: RunRecord) -> None:
        self.watches.pop(job.index, None)
        self.records.append(record)

    @contextmanager
    def shown(self) -> Iterator[LiveView]:
        from rich.live import Live

        with Live(
            self,
            console=self.console,
            refresh_per_second=self.refresh_per_second,
            transient=False,
        ):
            yield self


def live_or_progress(
    console: Console,
    plan: BenchPlan,
    progress: Progress,
    on_start: Callable[[Job], None],
    on_done: Callable[[Job, RunRecord], None],
) -> tuple[
    AbstractContextManager[Any],
    Callable[[Job], None],
    Callable[[Job, RunRecord], None],
    Callable[[Job], RunWatch | None],
]:
    """(display, on_start, on_done, observe) for the bench: the live view on a terminal,
    where it also draws the progress bar and watches each run (`observe(job)` is the
    run's observer); elsewhere the progress bar and its lines unchanged, and no
    observer."""
    if not console.is_terminal:
        return progress, on_start, on_done, lambda job: None
    view = LiveView(console, plan, progress)

    def started(job: Job) -> None:
        on_start(job)
        view.on_start(job)

    def done(job: Job, record: RunRecord) -> None:
        view.on_done(job, record)
        on_done(job, record)

    return view.shown(), started, done, view.watch
