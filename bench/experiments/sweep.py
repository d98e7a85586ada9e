"""A sweep: one client, one knob, many values, with theory.

For each value the client runs several times against a fresh mock server
(the bench's own `run_one`, so every run is reset, reseeded and joined with
the server's log). Every run goes to `sweep.jsonl` as soon as it ends; theory
for every value is computed once at the end and stored (theory.json); then
`sweep.json` (per-value figures beside theory's) and `sweep-<knob>.png`
(makespan and 429s against the knob) are drawn from those files alone.

Theory for each value:

- Little's law: throughput = min(requests in flight / mean latency, limit),
  makespan ≈ n / throughput. It ignores start-up, the tail and 429s, so it
  shows where the bottleneck moves, not what happens past it.
- the simulator (`bench.theory.models.predict`), for clients it has a model of:
  the makespan and 429s a run should really show, retries included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bench.endpoints.registry import theory_for_runs
from bench.output.plots import draw_sweep
from bench.records.results import (
    Machine,
    ResultsError,
    RunLog,
    RunRecord,
    SweepPoint,
    TheoryRecord,
    load_runs,
    upgrade_theory,
    write_json,
    write_theory,
)
from bench.records.sweeps import SweepRow, SweepSummary
from bench.running.plan import BenchPlan, Job
from bench.running.runner import run_one, server_for
from clients.config import ClientConfig, ConfigError

SWEEP_FILE = "sweep.jsonl"
SWEEP_SUMMARY = "sweep.json"

# Knob name -> (parser, what it sets). Client knobs are `ClientConfig`'s
# fields; `n` is the batch size, shared by client and theory.
KNOBS: dict[str, tuple[Callable[[str], float], str]] = {
    "workers": (int, "threads in the pool, or attempts in flight (clients that cap them)"),
    "n": (int, "requests in the batch"),
    "rate": (float, "the client's own pace, sends or tokens per second (clients that pace)"),
    "capacity": (int, "the client's bucket capacity or burst, whole tokens (bucket clients)"),
}


def parse_knob(text: str) -> tuple[str, list[float]]:
    """`workers=1,2,4` -> ("workers", [1, 2, 4]); ConfigError with a hint otherwise."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not values.strip():
        raise ConfigError(f"sweep {text!r}: write KNOB=V1,V2,..., e.g. workers=1,2,4,7,10,16")
    if name not in KNOBS:
        raise ConfigError(f"unknown knob {name!r}: choose from {', '.join(KNOBS)}")
    kind, _ = KNOBS[name]
    parsed: list[float] = []
    for raw in values.split(","):
        try:
            value = kind(raw.strip())
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name}={raw.strip()!r} is not {what}") from None
        if value in parsed:
            raise ConfigError(f"{name}={raw.strip()} is given twice")
        parsed.append(value)
    for value in parsed:
        ClientConfig(**{name: value})  # type: ignore[arg-type]  # its checks, its messages
    return name, parsed


def plan_for(base: BenchPlan, knob: str, value: float) -> BenchPlan:
    """The bench plan of one value: `n` changes the scenario, other knobs override."""
    if knob == "n":
        return replace(base, scenario=replace(base.scenario, n=int(value)))
    kind, _ = KNOBS[knob]
    setting = int(value) if kind is int else float(value)
    return replace(base, overrides=(*base.overrides, (knob, setting)))


def run_sweep(
    base: BenchPlan,
    knob: str,
    values: Sequence[float],
    run_dir: Path,
    on_done: Callable[[float, RunRecord], None] = lambda value, record: None,
) -> list[RunRecord]:
    """Every value's runs, each value against a fresh server; records appended to sweep.jsonl."""
    log = RunLog(run_dir / SWEEP_FILE)
    here = Machine.here()
    records: list[RunRecord] = []
    (client,) = base.clients
    for value in values:
        plan = plan_for(base, knob, value)
        point = SweepPoint(knob, float(value))
        with server_for(plan) as (url, server):
            for run in range(plan.runs):
                job = Job(len(records), run, client, plan.scenario.seed + run)
                record = run_one(plan, job, url, server, here, sweep=point)
                log.append(record)
                records.append(record)
                on_done(value, record)
    return records


def load_sweep(run_dir: Path) -> list[RunRecord]:
    """The runs of a sweep directory; ResultsError if they are not a sweep's."""
    if not (run_dir / SWEEP_FILE).is_file():
        raise ResultsError(
            f"{run_dir} has no {SWEEP_FILE}: give a directory written by bench sweep"
        )
    records = load_runs(run_dir, SWEEP_FILE)
    for number, record in enumerate(records, start=1):
        if record.sweep is None:
            raise ResultsError(f"{run_dir / SWEEP_FILE}: run {number} is not a sweep run record")
    return records


def summarise(records: Sequence[RunRecord], theory: TheoryRecord | None) -> SweepSummary:
    """Per value, the measured figures and the stored theory's; no theory is run here."""
    by_value: dict[float, list[RunRecord]] = {}
    for record in records:
        assert record.sweep is not None  # load_sweep checked it
        by_value.setdefault(record.sweep.value, []).append(record)
    rows = []
    for value, runs in by_value.items():
        good = [r for r in runs if r.ok]
        first = runs[0]
        rows.append(
            SweepRow(
                value=value,
                runs=len(good),
                failed_runs=len(runs) - len(good),
                times=tuple(r.seconds for r in good),
                rejections=tuple(r.rejections for r in good),
                incomplete=tuple(r.incomplete for r in good),
                expected=theory.for_client(first.client, first.sweep) if theory else None,
            )
        )
    first = records[0]
    assert first.sweep is not None
    return SweepSummary(
        client=first.client,
        knob=first.sweep.knob,
        # The scenario without the knob: n's runs each carry their own n.
        scenario=first.scenario,
        rows=tuple(rows),
    )


def format_sweep(summary: SweepSummary) -> str:
    knob = summary.knob
    lines = [
        f"Sweep of {knob} for {summary.client} (scenario seconds; theory: Little's law "
        "n / min(in flight / mean latency, limit), and the simulator where it has a model)",
        f"  {knob:>8}  {'measured':>16}  {'429s':>5}  {'Little':>7}  {'simulated':>16}  "
        f"{'sim 429s':>8}  bottleneck",
    ]
    for row in summary.rows:
        e = row.expected
        measured = f"{row.mean:7.2f} ± {row.stddev:5.2f}" if row.times else "—"
        simulated = (
            f"{e.predicted_mean:7.2f} ± {e.predicted_stddev or 0.0:5.2f}"
            if e is not None and e.predicted_mean is not None
            else "—"
        )
        sim_rej = (
            f"{e.predicted_rejections:8.1f}"
            if e is not None and e.predicted_rejections is not None
            else "—"
        )
        little = (
            f"{e.little_makespan:7.2f}" if e is not None and e.little_makespan is not None else "—"
        )
        bottleneck = e.little_bottleneck if e is not None and e.little_bottleneck else "—"
        lines.append(
            f"  {row.value:>8g}  {measured:>16}  "
            f"{row.mean_rejections if row.times else 0.0:5.1f}  "
            f"{little:>7}  {simulated:>16}  {sim_rej:>8}  {bottleneck}"
        )
    return "\n".join(lines)


def write_outputs(run_dir: Path) -> SweepSummary:
    """sweep.json and the plot, from sweep.jsonl and the stored theory alone."""

    summary = summarise(load_sweep(run_dir), upgrade_theory(run_dir))
    write_json(run_dir / SWEEP_SUMMARY, summary.to_dict())
    draw_sweep(summary, run_dir / f"sweep-{summary.knob}.png")
    return summary


def finish(
    run_dir: Path, records: Sequence[RunRecord], sim_runs: int | None = None
) -> SweepSummary:
    """At the end of a sweep: theory once (Little's law, the simulator with
    `sim_runs` virtual runs per point, None for `bench.theory.sim_runs.sim_runs_for`,
    replays), stored, then the outputs from the files."""

    write_theory(run_dir, theory_for_runs(records, sim_runs))
    return write_outputs(run_dir)
