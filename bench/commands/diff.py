"""`python -m bench diff A B`: the same runs measured twice, run by run."""

from __future__ import annotations

from pathlib import Path

from bench.output.run_diff import format_diff, pair_runs, replay_errors
from bench.records.results import load_runs, load_theory
from mock_server.vocabulary import OneLineParser


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench diff",
        description="Pair each run of results directory A with the run of B that has the "
        "same client and seed (the same latency draws) and print how far apart their "
        "makespans and 429s are, with each run's replay error (from theory.json) for "
        "scale. For example: the same bench with --jobs 1 and with runs side by side.",
    )
    parser.add_argument("a", type=Path, help="a results directory written by python -m bench")
    parser.add_argument("b", type=Path, help="another, of the same scenario and seeds")
    args = parser.parse_args(argv)
    a, b = load_runs(args.a), load_runs(args.b)
    errors = []
    for run_dir, runs in ((args.a, a), (args.b, b)):
        theory = load_theory(run_dir)
        if theory is not None:
            errors += replay_errors(runs, theory.replays)
    print(format_diff(pair_runs(a, b), errors, (str(args.a), str(args.b))))
    return 0
