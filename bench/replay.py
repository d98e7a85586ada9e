"""`python -m bench replay DIR`: separate luck from method.

Ten runs are a small sample of latency draws: a lucky sample makes every
client look fast. Replay feeds each measured run's own latencies (the server
logs each accepted request's draw, in the order it accepted them) through
theory's model of the same client, and the best possible schedule through
them too. What is left between a run and its replay is the client's and the
machine's own doing: overheads, a 429 at a window's edge, a late timer.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, replace
from typing import Any

from bench.predict import theory_scenario
from bench.stats import makespan_seconds
from bench.theory import BEST_SCHEDULE, ClientModel, Scenario, model_for


class DrawsUsedUp(Exception):
    """The model accepted more requests than the server did in that run."""


class ReplayDraws(random.Random):
    """A random source that hands out a run's recorded latencies in order."""

    def __init__(self, draws: list[float]) -> None:
        super().__init__(0)
        self._draws = iter(draws)

    def randint(self, a: int, b: int) -> int:
        return int(self._next())

    def uniform(self, a: float, b: float) -> float:
        return self._next()

    def _next(self) -> float:
        try:
            return float(next(self._draws))
        except StopIteration:
            raise DrawsUsedUp from None


def server_draws(run: dict[str, Any]) -> list[float]:
    """Scenario seconds drawn for each accepted request, in the order accepted."""
    accepted = [e for e in run["server_log"] if e.get("accepted") and e.get("drawn") is not None]
    accepted.sort(key=lambda e: e.get("decided") or e["arrival"])
    return [float(e["drawn"]) for e in accepted]


def replay(model: ClientModel, scenario: Scenario, run: dict[str, Any]) -> float | None:
    """The model's makespan on this run's draws, in scenario seconds; None if
    the model needed more accepted requests than the server logged."""
    s = scenario
    if s.strategy == "sliding-window-counter":
        # Where the batch started within the server's clock-aligned window.
        wall_window = s.window * float(run["time_scale"])
        phase = (float(run["wall_start"]) % wall_window) / float(run["time_scale"])
        s = replace(s, phase=min(phase, s.window * 0.999999))
    else:
        s = replace(s, phase=0.0)
    draws = server_draws(run)
    try:
        return model.run(s, ReplayDraws(draws)).makespan
    except DrawsUsedUp:
        return None


@dataclass(frozen=True, slots=True)
class ReplayRow:
    client: str
    runs: int
    measured: float  # mean makespan, scenario seconds
    replayed: float | None  # mean of the model on the same draws
    worst_gap: float | None  # largest measured - replayed, seconds
    best_possible: float | None  # mean of the bound's schedule on the same draws


def replay_runs(runs: list[dict[str, Any]]) -> list[ReplayRow]:
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return []
    scenario = theory_scenario(ok[0]["scenario"])
    best = BEST_SCHEDULE
    best_scenario = replace(scenario, margin=0.0)
    rows = []
    for client in dict.fromkeys(r["client"] for r in ok):
        mine = [r for r in ok if r["client"] == client]
        measured = [makespan_seconds(r) for r in mine]
        model = model_for(client)
        replays = [replay(model, scenario, r) if model else None for r in mine]
        pairs = [(m, p) for m, p in zip(measured, replays, strict=True) if p is not None]
        bounds = [replay(best, best_scenario, r) for r in mine]
        known = [b for b in bounds if b is not None]
        rows.append(
            ReplayRow(
                client=client,
                runs=len(mine),
                measured=statistics.fmean(measured),
                replayed=statistics.fmean(p for _, p in pairs) if pairs else None,
                worst_gap=max(m - p for m, p in pairs) if pairs else None,
                best_possible=statistics.fmean(known) if len(known) == len(bounds) else None,
            )
        )
    return rows


def format_replay(rows: list[ReplayRow]) -> str:
    def fmt(x: float | None, unit: str = " s") -> str:
        return "—" if x is None else f"{x:.3f}{unit}"

    lines = [
        "Each run replayed on its own latency draws (from the server's log), in scenario seconds:",
        f"  {'client':<18} {'runs':>4} {'measured':>10} {'replayed':>10} {'worst gap':>10} "
        f"{'best possible':>14}",
    ]
    for r in rows:
        lines.append(
            f"  {r.client:<18} {r.runs:>4} {fmt(r.measured):>10} {fmt(r.replayed):>10} "
            f"{fmt(r.worst_gap):>10} {fmt(r.best_possible):>14}"
        )
    lines.append(
        "replayed: theory's model of the client on the same draws; worst gap: the largest "
        "measured - replayed (overheads, a 429 at a window's edge); best possible: two sends "
        "per window from t = 0 on the same draws. '—': no model, or the run's 429s differ "
        "from the model's."
    )
    return "\n".join(lines)
