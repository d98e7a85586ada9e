"""`python -m bench replay DIR`: every run through theory's model, on its own draws."""

from __future__ import annotations

from pathlib import Path

from bench.records.results import load_runs
from bench.theory.replay import format_replay, replay_rows, replay_runs
from mock_server.vocabulary import OneLineParser


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench replay",
        description="Replay every run of a results directory through theory's model of its "
        "client, on the latencies the server drew in that run: what was luck of the draw, "
        "and what the client or the machine added.",
    )
    parser.add_argument("results_dir", type=Path, help="a directory written by python -m bench")
    args = parser.parse_args(argv)
    runs = load_runs(args.results_dir)
    print(format_replay(replay_rows(runs, replay_runs(runs))))
    return 0
