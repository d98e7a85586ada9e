"""`--check 'METRIC OP NUMBER'`: pass/fail thresholds over the summary's figures.

As load-testing tools gate CI on their thresholds: each check is held
against every client of the bench (or, `CLIENT:METRIC ...`, one), read
from summary.json's own figures, so a check says nothing the summary does
not. The bench prints a table of the outcomes after the summary, stores
them in summary.json (`checks`), and exits 1 when one fails.
"""

from __future__ import annotations

import operator
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_server.vocabulary import UsageError


def _mean(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def value(entry: Mapping[str, Any]) -> float | None:
        values = entry.get(key)
        return statistics.fmean(values) if values else None

    return value


def _most(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def value(entry: Mapping[str, Any]) -> float | None:
        values = entry.get(key)
        return float(max(values)) if values else None

    return value


def _field(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def value(entry: Mapping[str, Any]) -> float | None:
        found = entry.get(key)
        return None if found is None else float(found)

    return value


#: Each metric: what it is, and how it is read from a client's summary entry.
METRICS: dict[str, tuple[str, Callable[[Mapping[str, Any]], float | None]]] = {
    "mean": ("makespan, mean over the runs (scenario seconds)", _field("mean")),
    "median": ("makespan, median (scenario seconds)", _field("median")),
    "min": ("makespan, shortest run (scenario seconds)", _field("min")),
    "max": ("makespan, longest run (scenario seconds)", _field("max")),
    "stddev": ("makespan, standard deviation (scenario seconds)", _field("stddev")),
    "over_bound": ("mean makespan / the best possible (theory's bound)", _field("over_bound")),
    "rejections": ("429s per run, mean (the server's log)", _mean("rejections")),
    "max_rejections": ("429s in the run with the most", _most("rejections")),
    "lost": ("requests never answered with success, per run, mean", _mean("lost")),
    "failed_runs": ("runs that could not be measured", _field("failed_runs")),
}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_CHECK = re.compile(
    r"\s*(?:(?P<client>[^:\s]+)\s*:\s*)?(?P<metric>[a-z_]+)\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)
HELP = (
    "a pass/fail threshold on the summary's figures, 'METRIC OP NUMBER' (OP one of "
    f"{' '.join(OPERATORS)}), held against every client, or 'CLIENT:METRIC OP NUMBER' "
    "against one; repeatable. The bench prints a table of the outcomes, stores them in "
    "summary.json and exits 1 when one fails. Metrics: "
    + "; ".join(f"{name}: {words}" for name, (words, _) in METRICS.items())
)


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold: `client` None holds it against every client."""

    text: str
    client: str | None
    metric: str
    op: str
    number: float

    def passes(self, value: float | None) -> bool:
        return value is not None and OPERATORS[self.op](value, self.number)


@dataclass(frozen=True, slots=True)
class Outcome:
    check: Check
    client: str
    value: float | None  # None: the client has no such figure (no completed run, no theory)

    @property
    def passed(self) -> bool:
        return self.check.passes(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check.text,
            "client": self.client,
            "metric": self.check.metric,
            "op": self.check.op,
            "threshold": self.check.number,
            "value": self.value,
            "passed": self.passed,
        }


def parse_check(text: str, clients: Sequence[str]) -> Check:
    """`text` as a check on the bench's `clients`; bad input is a UsageError."""
    found = _CHECK.fullmatch(text)
    if found is None:
        raise UsageError(
            f"--check {text!r}: expected 'METRIC OP NUMBER' or 'CLIENT:METRIC OP NUMBER', "
            "such as 'rejections == 0' (see --help)"
        )
    client, metric = found["client"], found["metric"]
    if metric not in METRICS:
        raise UsageError(
            f"--check {text!r}: unknown metric {metric!r}; known: {', '.join(METRICS)}"
        )
    if client is not None and client not in clients:
        raise UsageError(
            f"--check {text!r}: {client!r} is not a client of this bench ({', '.join(clients)})"
        )
    return Check(" ".join(text.split()), client, metric, found["op"], float(found["number"]))


def client_figures(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each client's figures from summary.json, by name: its `results[]` entry
    (with `over_bound` and `lost`), or what a client without a completed run has."""
    figures: dict[str, dict[str, Any]] = {c: {} for c in summary["clients"]}
    for entry in summary["results"]:
        # A --command's entry names its shell command as hyperfine does, and itself in `name`.
        figures[entry.get("name", entry["command"])] = {
            **entry,
            "over_bound": entry.get("measured_over_bound"),
            "lost": entry["incomplete_requests"],
        }
    for entry in summary["gave_up"]:
        figures[entry["command"]].setdefault("rejections", entry["rejections"])
        figures[entry["command"]].setdefault("lost", entry["requests_lost"])
    for failed in summary["failed_runs"]:
        mine = figures[failed["client"]]
        mine.setdefault("failed_runs", 0)
        if failed["client"] in summary["no_completed_runs"]:
            mine["failed_runs"] += 1
    return figures


def evaluate(checks: Sequence[Check], summary: Mapping[str, Any]) -> list[Outcome]:
    figures = client_figures(summary)
    outcomes = []
    for check in checks:
        read = METRICS[check.metric][1]
        for client in [check.client] if check.client else list(figures):
            outcomes.append(Outcome(check, client, read(figures.get(client, {}))))
    return outcomes


def format_outcomes(outcomes: Sequence[Outcome]) -> str:
    """The table printed after the summary: one line per check and client."""
    rows = [
        (
            "PASS" if o.passed else "FAIL",
            o.client,
            o.check.text,
            "no value" if o.value is None else f"{o.value:.4g}",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [("", "client", "check", "value"), *rows]) for i in range(4)]
    failed = sum(1 for o in outcomes if not o.passed)
    lines = ["Checks"]
    lines += [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [("", "client", "check", "value"), *rows]
    ]
    lines.append(
        f"  {len(outcomes) - failed} passed, {failed} failed"
        + (": exit status 1" if failed else "")
    )
    return "\n".join(line.rstrip() for line in lines)
