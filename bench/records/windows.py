"""What the server accepted per window of its limit, read from its own log.

The measure that tells one shared limit from N private ones. With one
limiter shared through Redis, every log entry carries the reset time of the
window it was counted in, and the windows are read from those stamps: at
most the limit accepted in each, by construction, and the count checks it.
With `memory://` storage and N workers each worker's own windows hold at
most the limit, but the others accept meanwhile; judged against the windows
one limiter for the whole server would have opened, the server accepts up
to N times the limit in one window.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.records.results import RunRecord, ServerEntry, server_entries

#: A server's log: typed entries, or its `/log` entries as fetched (tests read
#: them straight from a server).
Log = Iterable[ServerEntry | Mapping[str, Any]]

# Two stamps of one window's reset differ by up to a millisecond with Redis
# (PTTL is whole milliseconds) and by microseconds in memory.
RESET_TOLERANCE = 0.003


@dataclass(frozen=True, slots=True)
class Window:
    """One window of one limiter, in wall seconds (`time.time()`)."""

    opened: float
    reset: float
    accepted: int  # accepted while it was open, by any worker
    arrived: int  # decided (accepted or not) while it was open, by any worker
    tokens: int = 0  # tokens charged by what it accepted (the OpenAI-compatible endpoint)


def batch_start_wall(run: RunRecord) -> float:
    """The batch's start on `time.time()`, the clock the limiter's windows are on.
    The batch's start is a `time.monotonic()` reading; each decision is stamped on
    both clocks, so it is read off them (`wall_start` is earlier: it precedes the
    client's imports)."""
    starts = [
        e.wall - (e.decided - run.started)
        for e in run.server_log
        if e.wall is not None and e.decided is not None
    ]
    return statistics.median(starts) if starts else run.wall_start


def _instant(entry: ServerEntry) -> float:
    wall = entry.wall or 0.0
    return (wall + (entry.wall_after if entry.wall_after is not None else wall)) / 2


def limiter_windows(log: Log, window: float, shared: bool) -> list[Window]:
    """Every window of the limit, with what was decided in it.

    `window` is the limit's window in wall seconds (scaled). `shared`: all
    workers counted in one limiter (Redis, or the OpenAI-compatible endpoint's
    one limiter), whose windows are read from the log's own stamps. Otherwise
    each worker counted alone, and the windows are those one limiter for the
    whole server would have opened (at the first request after the previous
    one closed): the limit as the operator meant it, against which the
    workers' private counters are judged. Without stamps (the moving window
    has no windows) the windows are opened that way too.

    The OpenAI-compatible endpoint stamps only what it admitted (a refusal is
    counted in no window); a refusal is placed in the window open at its
    instant, or the last one before it.
    """
    decided = sorted((e for e in server_entries(log) if e.wall is not None), key=_instant)
    stamped = shared and any(e.window_reset is not None for e in decided)
    groups: list[tuple[float, list[ServerEntry]]] = []
    unstamped: list[ServerEntry] = []
    for entry in decided:
        if stamped:
            if entry.window_reset is None:
                unstamped.append(entry)
                continue
            reset = entry.window_reset
            match = [g for g in groups if abs(g[0] - reset) <= RESET_TOLERANCE]
        else:
            reset = _instant(entry) + window
            match = [groups[-1]] if groups and _instant(entry) < groups[-1][0] else []
        if match:
            match[0][1].append(entry)
        else:
            groups.append((reset, [entry]))
    groups.sort(key=lambda g: g[0])
    for entry in unstamped:
        before = [g for g in groups if g[0] - window <= _instant(entry)]
        if before:
            before[-1][1].append(entry)
    return [
        Window(
            opened=reset - window,
            reset=reset,
            accepted=sum(1 for e in members if e.accepted),
            arrived=len(members),
            tokens=sum(e.tokens_charged or 0 for e in members if e.accepted),
        )
        for reset, members in groups
        if any(e.accepted for e in members)
    ]


def max_accepted_per_window(log: Log, window: float, shared: bool) -> int:
    return max((w.accepted for w in limiter_windows(log, window, shared)), default=0)


def max_arrived_per_window(log: Log, window: float, shared: bool) -> int:
    return max((w.arrived for w in limiter_windows(log, window, shared)), default=0)


def bound_makespan(log: Log, limit: int, window: float) -> float:
    """The shortest makespan any client that respects the limit could have had,
    given the latencies the server drew (scenario seconds, like `drawn`).

    The k-th accepted request (k from 0) cannot be sent before window
    floor(k / limit) opens, and it takes the k-th draw: the best schedule,
    `limit` sends at the start of each window, finishes at
    max_k(floor(k / limit) * window + drawn_k).
    """
    accepted = [e for e in server_entries(log) if e.drawn is not None]
    accepted.sort(key=lambda e: (e.rank or 0, e.decided or e.arrival))
    return max(
        (math.floor(k / limit) * window + (e.drawn or 0.0) for k, e in enumerate(accepted)),
        default=0.0,
    )
