"""Two measurements of the same runs, side by side: what running them differently changed.

`python -m bench diff A B` pairs each run of results directory A with the run
of B that has the same client and seed (so the same latency draws), and
reports how far apart their makespans and 429s are. Its purpose is the
question `--jobs` raises: do runs side by side measure what runs one after
another measure? The scale for "far" is each run's replay error: how far a
run already lies from theory's model of its client on its own draws (stored
in theory.json), the timing noise a run has on its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.records.results import Replayed, RunRecord


@dataclass(frozen=True, slots=True)
class RunPair:
    """Run `seed` of `client` as A and B measured it (scenario seconds)."""

    client: str
    seed: int
    a_seconds: float
    b_seconds: float
    a_rejections: int
    b_rejections: int

    @property
    def seconds_apart(self) -> float:
        return abs(self.a_seconds - self.b_seconds)

    @property
    def rejections_apart(self) -> int:
        return abs(self.a_rejections - self.b_rejections)


def pair_runs(a: Sequence[RunRecord], b: Sequence[RunRecord]) -> list[RunPair]:
    """Every finished run of A with the finished run of B of the same client and seed,
    in A's order of clients and seeds."""
    in_b = {(r.client, r.seed): r for r in b if r.ok}
    pairs = []
    for run in sorted((r for r in a if r.ok), key=lambda r: (r.client, r.seed)):
        other = in_b.get((run.client, run.seed))
        if other is not None:
            pairs.append(
                RunPair(
                    run.client,
                    run.seed,
                    run.seconds,
                    other.seconds,
                    run.rejections,
                    other.rejections,
                )
            )
    return pairs


def replay_errors(runs: Sequence[RunRecord], replays: Sequence[Replayed]) -> list[float]:
    """How far each run lies from its replay through its client's model (scenario
    seconds), for the runs that have one."""
    model = {(r.client, r.run): r.model for r in replays}
    errors = []
    for run in runs:
        replayed = model.get((run.client, run.run))
        if run.ok and replayed is not None:
            errors.append(abs(run.seconds - replayed))
    return errors


def format_diff(pairs: Sequence[RunPair], errors: Sequence[float], names: tuple[str, str]) -> str:
    """The table of pairs, the largest differences, and the replay errors for scale."""
    a, b = names
    lines = [
        f"{'client':<18} {'seed':>4} {'A (s)':>9} {'B (s)':>9} {'apart (ms)':>10}  429s A/B",
    ]
    for p in pairs:
        lines.append(
            f"{p.client:<18} {p.seed:>4} {p.a_seconds:9.3f} {p.b_seconds:9.3f} "
            f"{p.seconds_apart * 1000:10.1f}  {p.a_rejections}/{p.b_rejections}"
        )
    if not pairs:
        return "no run of A has a finished run of B with the same client and seed"
    widest = max(pairs, key=lambda p: p.seconds_apart)
    lines += [
        "",
        f"A: {a}",
        f"B: {b}",
        f"{len(pairs)} runs paired by client and seed. Makespans apart: median "
        f"{statistics.median(p.seconds_apart for p in pairs) * 1000:.1f} ms, largest "
        f"{widest.seconds_apart * 1000:.1f} ms ({widest.client}, seed {widest.seed}).",
        f"429s differ in {sum(1 for p in pairs if p.rejections_apart)} of {len(pairs)} runs"
        + (
            f" (by at most {max(p.rejections_apart for p in pairs)})."
            if any(p.rejections_apart for p in pairs)
            else "."
        ),
    ]
    if errors:
        lines.append(
            f"For scale, each run's replay error (measured against theory's model on its own "
            f"draws): median {statistics.median(errors) * 1000:.1f} ms, largest "
            f"{max(errors) * 1000:.1f} ms, over {len(errors)} runs with a model."
        )
    lines.append("Times are scenario seconds (wall seconds / time scale).")
    return "\n".join(lines)
