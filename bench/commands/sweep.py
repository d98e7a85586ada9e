"""`python -m bench sweep KNOB=V1,V2,... --client NAME`: one knob against theory."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.endpoints.registry import add_scenario_arguments, scenario_from_args
from bench.experiments.sweep import (
    KNOBS,
    finish,
    format_sweep,
    parse_knob,
    run_sweep,
    write_outputs,
)
from bench.records.results import RunRecord, new_run_dir
from bench.running.plan import BenchPlan
from clients import REGISTRY, WRITEUP_CLIENTS, spec
from clients.config import ConfigError
from mock_server.vocabulary import OneLineParser

EXAMPLE = f"workers=1,2,4,7,10,16 --client {WRITEUP_CLIENTS[0]}"


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench sweep",
        description=(
            "Run one client at several values of one knob and plot makespan and 429s "
            "against it, with theory's prediction (Little's law, and the simulator where it "
            "has a model of the client). Each value runs against a fresh mock server. "
            f"Knobs: {'; '.join(f'{k}: {what}' for k, (_, what) in KNOBS.items())}."
        ),
        epilog=f"Example: python -m bench sweep {EXAMPLE}",
    )
    parser.add_argument("knob", metavar="KNOB=V1,V2,...", nargs="?", help="the knob and its values")
    parser.add_argument("--client", help=f"one of {', '.join(REGISTRY)}")
    parser.add_argument("--runs", type=int, default=3, help="runs per value (default: 3)")
    # The write-up's scenario: a sweep varies a client's knob (or n), not the server.
    add_scenario_arguments(parser, ("time_scale", "seed"))
    parser.add_argument("--out", default="results", help="directory for results (default: results)")
    parser.add_argument(
        "--name", default=None, help="directory under OUT (default: sweep-KNOB-<timestamp>)"
    )
    parser.add_argument(
        "--theory-runs",
        type=int,
        default=None,
        metavar="N",
        help="virtual runs per point behind the simulator's line (default: the bench's "
        "rule, 50000 / n within 10..4000, so a sweep of n stays quick at any size)",
    )
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="DIR",
        help="re-draw sweep.json and the plot of a sweep directory from its sweep.jsonl "
        "and stored theory, without running anything",
    )
    args = parser.parse_args(argv)
    if args.replot is not None:
        print(format_sweep(write_outputs(args.replot)))
        return 0
    if args.knob is None or args.client is None:
        raise ConfigError(f"give KNOB=V1,V2,... and --client NAME, e.g. {EXAMPLE}")
    knob, values = parse_knob(args.knob)
    if args.client not in REGISTRY:
        raise ConfigError(f"unknown client {args.client!r}: choose from {', '.join(REGISTRY)}")
    if knob != "n" and knob not in spec(args.client).knobs:
        raise ConfigError(
            f"{args.client} ignores {knob}: sweep one of its knobs "
            f"({', '.join(k for k in spec(args.client).knobs if k in KNOBS)}) or n"
        )
    if not 1 <= args.runs <= 1000:
        raise ConfigError(f"--runs {args.runs}: need between 1 and 1000 runs per value")
    if args.theory_runs is not None and not 1 <= args.theory_runs <= 100_000:
        raise ConfigError(f"--theory-runs {args.theory_runs} must be between 1 and 100000")
    base = BenchPlan(clients=(args.client,), runs=args.runs, scenario=scenario_from_args(args))
    run_dir = new_run_dir(args.out, args.name, prefix=f"sweep-{knob}-")
    print(
        f"sweep {knob} = {', '.join(f'{v:g}' for v in values)} for {args.client}, "
        f"{args.runs} runs each, time scale {args.time_scale:g} → {run_dir}",
        file=sys.stderr,
    )

    def on_done(value: float, record: RunRecord) -> None:
        what = (
            f"{record.seconds:8.2f} s  {record.rejections:3d} × 429"
            if record.ok
            else f"FAILED: {record.reason}"
        )
        print(f"  {knob}={value:g}  run {record.run + 1}  {what}", file=sys.stderr, flush=True)

    records = run_sweep(base, knob, values, run_dir, on_done)
    print(format_sweep(finish(run_dir, records, args.theory_runs)))
    print(f"\nResults: {run_dir}")
    return 0
