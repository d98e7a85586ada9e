"""Replay: separate luck from method.

Ten runs are a small sample of latency draws: a lucky sample makes every
client look fast. Replay feeds each measured run's own latencies (the server
logs each accepted request's draw, in the order it accepted them) through
theory's model of the same client, and the best possible schedule through
them too. What is left between a run and its replay is the client's and the
machine's own doing: overheads, a 429 at a window's edge, a late timer.

`replay_runs` runs theory, and is called when a measurement is made (its
results are stored in theory.json) and by `python -m bench replay`;
`replay_rows` only sums stored replays up, for the report.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.records.results import Replayed, RunRecord
from bench.records.stats import by_client, ok_runs
from bench.theory.models import (
    TheoryInput,
    best_schedule_model,
    model_for,
    run_model,
    theory_input,
)
from clients.infra.virtual import VirtualLoops


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
            return next(self._draws)
        except StopIteration:
            raise DrawsUsedUp from None


def server_draws(run: RunRecord) -> list[float]:
    """Scenario seconds drawn for each accepted request, in the order accepted."""
    accepted = [e for e in run.server_log if e.accepted and e.drawn is not None]
    accepted.sort(key=lambda e: e.decided or e.arrival)
    return [e.drawn for e in accepted if e.drawn is not None]


def replay(model: VirtualLoops, given: TheoryInput, run: RunRecord) -> float | None:
    """The model's makespan on this run's draws, in scenario seconds; None if
    the model needed more accepted requests than the server logged."""
    s = given
    if s.strategy == "sliding-window-counter":
        # Where the batch started within the server's clock-aligned window.
        scale = run.scenario.time_scale
        wall_window = s.window * scale
        phase = (run.wall_start % wall_window) / scale
        s = replace(s, phase=min(phase, s.window * 0.999999))
    else:
        s = replace(s, phase=0.0)
    try:
        return run_model(model, s, ReplayDraws(server_draws(run))).makespan
    except DrawsUsedUp:
        return None


def replay_runs(runs: Sequence[RunRecord]) -> list[Replayed]:
    """Every finished run through its client's model and the best schedule (runs theory)."""
    replays = []
    for run in ok_runs(runs):
        given = theory_input(run.scenario, run.config)
        model = model_for(run.client)
        replays.append(
            Replayed(
                client=run.client,
                run=run.run,
                model=replay(model, given, run) if model is not None else None,
                best_possible=replay(best_schedule_model, replace(given, margin=0.0), run),
            )
        )
    return replays


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One client's runs against their replays, in scenario seconds."""

    client: str
    runs: int
    measured: float  # mean makespan
    replayed: float | None  # mean of the model on the same draws
    worst_gap: float | None  # largest measured - replayed
    best_possible: float | None  # mean of the bound's schedule on the same draws


def replay_rows(runs: Sequence[RunRecord], replays: Sequence[Replayed]) -> list[ReplayRow]:
    """Per client: measured against replayed, from stored replays alone (no theory)."""
    found = {(r.client, r.run): r for r in replays}
    rows = []
    for client, mine in by_client(ok_runs(runs)).items():
        measured = [r.seconds for r in mine]
        stored = [found.get((client, r.run)) for r in mine]
        models = [s.model if s is not None else None for s in stored]
        pairs = [(m, p) for m, p in zip(measured, models, strict=True) if p is not None]
        bounds = [s.best_possible if s is not None else None for s in stored]
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
        "measured - replayed (overheads, a 429 at a window's edge); best possible: the limit's "
        "worth of sends per window from t = 0 on the same draws. '—': no model, or the run's "
        "429s differ from the model's."
    )
    return "\n".join(lines)
