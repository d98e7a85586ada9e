"""`python -m bench sweep KNOB=V1,V2,... --client NAME`: one knob, many values, with theory.

For each value the client runs `--runs` times against a fresh mock server
(the bench's own `run_one`, so every run is reset, reseeded and joined with
the server's log). Every run goes to `sweep.jsonl` as soon as it ends; then
`sweep.json` (per-value figures beside theory's) and `sweep-<knob>.png`
(makespan and 429s against the knob) are drawn from that file alone.

Theory for each value:

- Little's law: throughput = min(requests in flight / mean latency, limit),
  makespan ≈ n / throughput. It ignores start-up, the tail and 429s, so it
  shows where the bottleneck moves, not what happens past it.
- the simulator (`bench.theory.predict`), for clients it has a model of:
  the makespan and 429s a run should really show, retries included.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from bench.predict import best_possible, theory_scenario
from bench.results import RUN_SCHEMA, ResultsError, RunLog, write_json
from bench.runner import BenchSettings, Job, run_one, server_for
from bench.stats import makespan_seconds, server_rejections
from bench.theory import littles_law, model_for, predict
from clients import REGISTRY
from clients.config import ClientConfig, ConfigError

SWEEP_FILE = "sweep.jsonl"
SWEEP_SUMMARY = "sweep.json"
SWEEP_SCHEMA = "ratebench.sweep/1"
SIM_RUNS = 2000

# Knob name -> (parser, what it sets). Client knobs are `ClientConfig`'s
# fields; `n` is the batch size, shared by client and theory.
KNOBS: dict[str, tuple[Callable[[str], float], str]] = {
    "workers": (int, "threads in the pool, or attempts in flight (thread_pool, async_semaphore)"),
    "n": (int, "requests in the batch"),
    "rate": (float, "the client's bucket refill, tokens per second (bucket clients, aiometer)"),
    "capacity": (int, "the client's bucket capacity, whole tokens (bucket clients, aiolimiter)"),
}
# Clients whose requests in flight are capped by `workers`; the others have
# one task or thread per request.
BOUNDED = {"thread_pool", "async_semaphore"}
# Clients that pace themselves at `rate` (their limiter's refill).
PACED = {"token_bucket", "threads_bucket", "aiolimiter", "aiometer"}


@dataclass(frozen=True, slots=True)
class SweepSettings(BenchSettings):
    """A bench of one client with one client knob set (`knobs`: name, value)."""

    knobs: tuple[tuple[str, float], ...] = ()

    def client_config(self, chat_url: str) -> ClientConfig:
        base = BenchSettings.client_config(self, chat_url)
        knobs: dict[str, Any] = dict(self.knobs)
        return dataclasses.replace(base, **knobs)


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


def settings_for(base: BenchSettings, knob: str, value: float) -> SweepSettings:
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(BenchSettings)}
    if knob == "n":
        fields["n"] = int(value)
        return SweepSettings(**fields)
    return SweepSettings(**fields, knobs=((knob, value),))


def knob_config(record: dict[str, Any]) -> dict[str, Any]:
    """The client knobs a sweep run used (ClientConfig's defaults for the others)."""
    defaults = ClientConfig()
    knobs = dict(record["scenario"].get("knobs", ()))
    return {
        "workers": knobs.get("workers", defaults.workers),
        "rate": knobs.get("rate", defaults.rate),
        "capacity": knobs.get("capacity", defaults.capacity),
        "n": int(record["scenario"]["n"]),
    }


def run_sweep(
    base: BenchSettings,
    knob: str,
    values: Sequence[float],
    run_dir: Path,
    on_done: Callable[[float, dict[str, Any]], None] = lambda value, record: None,
) -> list[dict[str, Any]]:
    """Every value's runs, each value against a fresh server; records appended to sweep.jsonl."""
    log = RunLog(run_dir / SWEEP_FILE)
    records: list[dict[str, Any]] = []
    (client,) = base.clients
    for value in values:
        settings = settings_for(base, knob, value)
        with server_for(settings) as (url, server):
            for run in range(settings.runs):
                job = Job(len(records), run, client, settings.seed + run)
                record = run_one(settings, job, url, server)
                record["sweep"] = {"knob": knob, "value": value}
                log.append(record)
                records.append(record)
                on_done(value, record)
    return records


def load_sweep(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / SWEEP_FILE
    if not path.is_file():
        raise ResultsError(
            f"{run_dir} has no {SWEEP_FILE}: give a directory written by bench sweep"
        )
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ResultsError(f"{path}:{number} is not valid JSON: delete that line") from None
        if record.get("schema") != RUN_SCHEMA or "sweep" not in record:
            raise ResultsError(f"{path}:{number} is not a sweep run record")
        records.append(record)
    if not records:
        raise ResultsError(f"{path} holds no runs")
    return records


def theory_for(record: dict[str, Any]) -> dict[str, Any]:
    """Little's law and (when the client has a model) the simulator, for one value's scenario."""
    client = str(record["client"])
    knob, value = record["sweep"]["knob"], record["sweep"]["value"]
    knobs = knob_config(record)
    s = dataclasses.replace(theory_scenario(record["scenario"]), **{knob: value})
    in_flight = knobs["workers"] if client in BOUNDED else knobs["n"]
    little = littles_law(s.n, int(in_flight), s.mean_latency, s.limit, s.window)
    throughput, bottleneck = little.throughput, str(little.bottleneck)
    if client in PACED and knobs["rate"] < throughput:
        throughput, bottleneck = float(knobs["rate"]), "client rate"
    fields: dict[str, Any] = {
        "little_throughput": throughput,
        "little_makespan": s.n / throughput,
        "little_bottleneck": bottleneck,
        "bound": best_possible(s)[0],
    }
    if model_for(client) is not None:
        p = predict(client, s, runs=SIM_RUNS, seed=0)
        fields.update(
            predicted_mean=p.makespan.mean,
            predicted_stddev=p.makespan.stdev,
            predicted_rejections=p.rejections.mean,
            predicted_failed=p.failed.mean,
        )
    return fields


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """sweep.json: per value, the measured figures and theory's."""
    by_value: dict[float, list[dict[str, Any]]] = {}
    for record in records:
        by_value.setdefault(float(record["sweep"]["value"]), []).append(record)
    rows = []
    for value, runs in by_value.items():
        good = [r for r in runs if r["status"] == "ok"]
        row: dict[str, Any] = {
            "value": value,
            "runs": len(good),
            "failed_runs": len(runs) - len(good),
        }
        if good:
            times = [makespan_seconds(r) for r in good]
            rejections = [server_rejections(r) for r in good]
            row.update(
                times=times,
                mean=statistics.fmean(times),
                stddev=statistics.stdev(times) if len(times) > 1 else 0.0,
                rejections=rejections,
                mean_rejections=statistics.fmean(rejections),
                incomplete_requests=[int(r["n"]) - int(r["completed"]) for r in good],
            )
        row.update(theory_for(runs[0]))
        rows.append(row)
    first = records[0]
    return {
        "schema": SWEEP_SCHEMA,
        "client": first["client"],
        "knob": first["sweep"]["knob"],
        "time_unit": "scenario seconds",
        "scenario": {k: v for k, v in first["scenario"].items() if k != "knobs"},
        "values": rows,
    }


def format_sweep(summary: dict[str, Any]) -> str:
    knob = summary["knob"]
    lines = [
        f"Sweep of {knob} for {summary['client']} (scenario seconds; theory: Little's law "
        "n / min(in flight / mean latency, limit), and the simulator where it has a model)",
        f"  {knob:>8}  {'measured':>16}  {'429s':>5}  {'Little':>7}  {'simulated':>16}  "
        f"{'sim 429s':>8}  bottleneck",
    ]
    for row in summary["values"]:
        measured = f"{row['mean']:7.2f} ± {row['stddev']:5.2f}" if "mean" in row else "—"
        simulated = (
            f"{row['predicted_mean']:7.2f} ± {row['predicted_stddev']:5.2f}"
            if "predicted_mean" in row
            else "—"
        )
        sim_rej = f"{row['predicted_rejections']:8.1f}" if "predicted_rejections" in row else "—"
        lines.append(
            f"  {row['value']:>8g}  {measured:>16}  {row.get('mean_rejections', 0.0):5.1f}  "
            f"{row['little_makespan']:7.2f}  {simulated:>16}  {sim_rej:>8}  "
            f"{row['little_bottleneck']}"
        )
    return "\n".join(lines)


def write_outputs(run_dir: Path) -> dict[str, Any]:
    """sweep.json and the plot, from sweep.jsonl alone."""
    from bench.plots import draw_sweep

    summary = summarise(load_sweep(run_dir))
    write_json(run_dir / SWEEP_SUMMARY, summary)
    draw_sweep(summary, run_dir / f"sweep-{summary['knob']}.png")
    return summary


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see python -m bench sweep --help)\n")


def main(argv: list[str]) -> int:
    parser = _Parser(
        prog="python -m bench sweep",
        description=(
            "Run one client at several values of one knob and plot makespan and 429s "
            "against it, with theory's prediction (Little's law, and the simulator where it "
            "has a model of the client). Each value runs against a fresh mock server. "
            f"Knobs: {'; '.join(f'{k}: {what}' for k, (_, what) in KNOBS.items())}."
        ),
        epilog="Example: python -m bench sweep workers=1,2,4,7,10,16 --client thread_pool",
    )
    parser.add_argument("knob", metavar="KNOB=V1,V2,...", nargs="?", help="the knob and its values")
    parser.add_argument("--client", help=f"one of {', '.join(REGISTRY)}")
    parser.add_argument("--runs", type=int, default=3, help="runs per value (default: 3)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="(default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="run i uses seed SEED+i (default: 0)")
    parser.add_argument("--out", default="results", help="directory for results (default: results)")
    parser.add_argument(
        "--name", default=None, help="directory under OUT (default: sweep-KNOB-<timestamp>)"
    )
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="DIR",
        help="re-draw sweep.json and the plot of a sweep directory from its sweep.jsonl, "
        "without running anything",
    )
    args = parser.parse_args(argv)
    if args.replot is not None:
        print(format_sweep(write_outputs(args.replot)))
        return 0
    if args.knob is None or args.client is None:
        raise ConfigError(
            "give KNOB=V1,V2,... and --client NAME, e.g. workers=1,2,4 --client thread_pool"
        )
    knob, values = parse_knob(args.knob)
    if args.client not in REGISTRY:
        raise ConfigError(f"unknown client {args.client!r}: choose from {', '.join(REGISTRY)}")
    if not 1 <= args.runs <= 1000:
        raise ConfigError(f"--runs {args.runs}: need between 1 and 1000 runs per value")
    if not args.time_scale > 0:
        raise ConfigError(f"--time-scale {args.time_scale} must be greater than 0")
    base = BenchSettings(
        clients=(args.client,), runs=args.runs, time_scale=args.time_scale, seed=args.seed
    )
    name = args.name or f"sweep-{knob}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    run_dir = Path(args.out) / name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / SWEEP_FILE).exists():
            raise ConfigError(f"{run_dir / SWEEP_FILE} exists: pick another --name")
    except OSError as exc:
        raise ResultsError(f"cannot write under {run_dir}: {exc.strerror or exc}") from None
    print(
        f"sweep {knob} = {', '.join(f'{v:g}' for v in values)} for {args.client}, "
        f"{args.runs} runs each, time scale {args.time_scale:g} → {run_dir}",
        file=sys.stderr,
    )

    def on_done(value: float, record: dict[str, Any]) -> None:
        what = (
            f"{makespan_seconds(record):8.2f} s  {server_rejections(record):3d} × 429"
            if record["status"] == "ok"
            else f"FAILED: {record['reason']}"
        )
        print(f"  {knob}={value:g}  run {record['run'] + 1}  {what}", file=sys.stderr, flush=True)

    run_sweep(base, knob, values, run_dir, on_done)
    print(format_sweep(write_outputs(run_dir)))
    print(f"\nResults: {run_dir}")
    return 0
