"""A sweep's record: per value of one knob, the measured figures beside theory's (sweep.json)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.records.results import Expected
from bench.records.scenario import Scenario

SWEEP_SCHEMA = "ratebench.sweep/2"


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One value's measured figures (scenario seconds) and theory's."""

    value: float
    runs: int
    failed_runs: int
    times: tuple[float, ...]
    rejections: tuple[int, ...]
    incomplete: tuple[int, ...]
    expected: Expected | None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times)

    @property
    def stddev(self) -> float:
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    @property
    def mean_rejections(self) -> float:
        return statistics.fmean(self.rejections)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "value": self.value,
            "runs": self.runs,
            "failed_runs": self.failed_runs,
        }
        if self.times:
            row.update(
                times=list(self.times),
                mean=self.mean,
                stddev=self.stddev,
                rejections=list(self.rejections),
                mean_rejections=self.mean_rejections,
                incomplete_requests=list(self.incomplete),
            )
        e = self.expected
        if e is not None:
            if e.little_makespan is not None:
                row.update(
                    little_throughput=e.little_throughput,
                    little_makespan=e.little_makespan,
                    little_bottleneck=e.little_bottleneck,
                )
            row["bound"] = e.bound
            if e.predicted_mean is not None:
                row.update(
                    predicted_mean=e.predicted_mean,
                    predicted_stddev=e.predicted_stddev,
                    predicted_rejections=e.predicted_rejections,
                    predicted_failed=e.predicted_failed,
                )
        return row


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """sweep.json: per value, the measured figures and theory's."""

    client: str
    knob: str
    scenario: Scenario
    rows: tuple[SweepRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SWEEP_SCHEMA,
            "client": self.client,
            "knob": self.knob,
            "time_unit": "scenario seconds",
            "scenario": self.scenario.to_dict(),
            "values": [r.to_dict() for r in self.rows],
        }
