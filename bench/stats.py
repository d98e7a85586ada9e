"""From run records to the numbers the summary prints: hyperfine's, and ours.

All times here are scenario seconds: wall seconds divided by the time scale,
so a bench at time scale 0.1 reads like one at full scale.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ClientStats:
    """One client's figures over the runs that finished.

    `times` are makespans (batch start to last response) in scenario seconds;
    `rejections` the 429s each run got, as the server logged them;
    `failed_runs` runs that could not be measured (server died, ...), kept
    apart so they never enter the mean.
    """

    client: str
    times: list[float]
    rejections: list[int]
    client_rejections: list[int]
    incomplete: list[int]
    failed_runs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

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

    def as_hyperfine(self) -> dict[str, Any]:
        """One entry of hyperfine's `--export-json` `results[]`, plus our fields."""
        return {
            "command": self.client,
            "mean": self.mean,
            "stddev": self.stddev,
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "times": self.times,
            "exit_codes": [0 if i == 0 else 1 for i in self.incomplete],
            "rejections": self.rejections,
            "client_rejections": self.client_rejections,
            "incomplete_requests": self.incomplete,
            "failed_runs": self.failed_runs,
            **self.extra,
        }


def makespan_seconds(run: dict[str, Any]) -> float:
    return float(run["makespan"]) / float(run["time_scale"])


def server_rejections(run: dict[str, Any]) -> int:
    return sum(1 for e in run["server_log"] if e.get("accepted") is False)


def client_stats(runs: list[dict[str, Any]]) -> dict[str, ClientStats]:
    """Group finished runs by client, in the order clients first appear."""
    order: list[str] = []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        name = run["client"]
        if name not in grouped:
            order.append(name)
            grouped[name] = []
        grouped[name].append(run)
    result = {}
    for name in order:
        good = [r for r in grouped[name] if r["status"] == "ok"]
        if not good:
            continue
        result[name] = ClientStats(
            client=name,
            times=[makespan_seconds(r) for r in good],
            rejections=[server_rejections(r) for r in good],
            client_rejections=[int(r["rejections"]) for r in good],
            incomplete=[int(r["n"]) - int(r["completed"]) for r in good],
            failed_runs=len(grouped[name]) - len(good),
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
