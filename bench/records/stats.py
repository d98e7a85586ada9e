"""From run records to the numbers the summary prints: hyperfine's, and ours.

All times here are scenario seconds: wall seconds divided by the time scale,
so a bench at time scale 0.1 reads like one at full scale.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.records.results import RunRecord
from clients.infra.records import Attempt


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (0-100) of `values`, linear between closest ranks.

    The standard library's `statistics.quantiles(method="inclusive")`, which is
    numpy's default; one value is its own every percentile. ValueError if empty.
    """
    if not values:
        raise ValueError("a percentile needs at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    if len(values) == 1 or q in (0, 100):
        return min(values) if q == 0 else max(values) if q == 100 else values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True, slots=True)
class ClientStats:
    """One client's figures over the runs that finished.

    `times` are makespans (batch start to last response) in scenario seconds;
    `rejections` the 429s each run got, as the server logged them;
    `client_rejections` as the client counted them; `incomplete` requests
    that never succeeded, per run; `failed_runs` runs that could not be
    measured (server died, ...), kept apart so they never enter the mean.
    """

    client: str
    times: tuple[float, ...]
    rejections: tuple[int, ...]
    client_rejections: tuple[int, ...]
    incomplete: tuple[int, ...]
    failed_runs: int = 0

    @property
    def runs(self) -> int:
        return len(self.times)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times)

    @property
    def stddev(self) -> float:
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    @property
    def mean_rejections(self) -> float:
        return statistics.fmean(self.rejections) if self.rejections else 0.0

    @property
    def mean_client_rejections(self) -> float:
        return statistics.fmean(self.client_rejections) if self.client_rejections else 0.0


def client_stats(runs: Sequence[RunRecord]) -> dict[str, ClientStats]:
    """Group finished runs by client, in the order clients first appear."""
    grouped = by_client(runs)
    result = {}
    for name, mine in grouped.items():
        good = [r for r in mine if r.ok]
        if not good:
            continue
        result[name] = ClientStats(
            client=name,
            times=tuple(r.seconds for r in good),
            rejections=tuple(r.rejections for r in good),
            client_rejections=tuple(r.client_rejections for r in good),
            incomplete=tuple(r.incomplete for r in good),
            failed_runs=len(mine) - len(good),
        )
    return result


def by_client(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs grouped by client, in the order clients first appear (the bench's order)."""
    grouped: dict[str, list[RunRecord]] = {}
    for run in runs:
        grouped.setdefault(run.client, []).append(run)
    return grouped


def ok_runs(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs that could be measured; failed runs never enter a figure's data."""
    return [r for r in runs if r.ok]


def representative_run(runs: Sequence[RunRecord]) -> RunRecord:
    """The run whose makespan is closest to the median of `runs`.

    A median run rather than the mean: one slow outlier (a retry at a
    window's edge) must not decide which run a reader sees. Ties go to the
    earlier run, so re-drawing is deterministic.
    """
    if not runs:
        raise ValueError("no runs to choose from")
    median = statistics.median(r.seconds for r in runs)
    return min(runs, key=lambda r: abs(r.seconds - median))


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A client whose runs gave up on requests after their retries (every request
    it lost was last answered 429): no makespan, since its batch was not done,
    but what it did instead, beside the clients that finished.

    `lost` requests per run; `ended` batch start to its last answer, scenario
    seconds; `rejections` 429s per run from the server's log.
    """

    client: str
    n: int
    lost: tuple[int, ...]
    ended: tuple[float, ...]
    rejections: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.lost)

    @property
    def mean_lost(self) -> float:
        return statistics.fmean(self.lost)

    @property
    def mean_ended(self) -> float:
        return statistics.fmean(self.ended)

    @property
    def mean_rejections(self) -> float:
        return statistics.fmean(self.rejections)


def unanswered(attempts: Sequence[Attempt]) -> dict[int, Attempt]:
    """The last attempt of each request that was sent but never came back ok."""
    done = {a.request for a in attempts if a.outcome == "ok"}
    last: dict[int, Attempt] = {}
    for a in sorted(attempts, key=lambda a: a.attempt):
        last[a.request] = a
    return {request: a for request, a in last.items() if request not in done}


def gave_up(run: RunRecord) -> int:
    """How many requests `run`'s client gave up on after 429s (0 if it did not,
    or if anything else, a fault or the deadline, left them unfinished)."""
    if run.ok or run.incomplete == 0:
        return 0
    last = unanswered(run.attempts)
    # Every unfinished request was sent, and its last answer was a 429.
    if len(last) == run.incomplete and all(a.outcome == "rate_limited" for a in last.values()):
        return run.incomplete
    return 0


def gave_up_stats(runs: Sequence[RunRecord]) -> dict[str, GaveUp]:
    """Per client, its runs that gave up on requests, in the bench's order."""
    result = {}
    for name, mine in by_client(runs).items():
        lossy = [(r, k) for r in mine for k in (gave_up(r),) if k]
        if lossy:
            result[name] = GaveUp(
                client=name,
                n=lossy[0][0].n,
                lost=tuple(k for _, k in lossy),
                ended=tuple(r.seconds for r, _ in lossy),
                rejections=tuple(r.rejections for r, _ in lossy),
            )
    return result


def speedups(stats: dict[str, ClientStats]) -> tuple[str, list[tuple[str, float, float]]]:
    """hyperfine's "X times faster than": the fastest client, and for every
    other one the ratio of means with its uncertainty (propagated σ)."""
    fastest = min(stats.values(), key=lambda s: s.mean)
    rows = []
    for s in stats.values():
        if s is fastest:
            continue
        ratio = s.mean / fastest.mean
        # hyperfine's formula: relative errors added in quadrature.
        err = ratio * ((s.stddev / s.mean) ** 2 + (fastest.stddev / fastest.mean) ** 2) ** 0.5
        rows.append((s.client, ratio, err))
    rows.sort(key=lambda row: row[1])
    return fastest.client, rows


def in_flight_levels(attempts: Sequence[Attempt]) -> list[tuple[float, int]]:
    """(time, attempts on the wire from then), at every send and finish, in time
    order; an attempt that finishes as another is sent is counted off first."""
    events = sorted([(a.sent, 1) for a in attempts] + [(a.finished, -1) for a in attempts])
    levels, level = [], 0
    for at, change in events:
        level += change
        levels.append((at, level))
    return levels
