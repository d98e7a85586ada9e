"""`python -m bench plot DIR`: re-draw summary, plots and report from saved files.

It reads runs.jsonl and the theory stored beside it, and runs nothing: no
client, no server, no simulation. With `--theory` it first works theory out
again from the runs' own scenario and knobs (simulation only, no server):
for results recorded before theory had a model of some client.
"""

from __future__ import annotations

from pathlib import Path

from bench.output.summary import format_summary, write_summary
from bench.records.results import check_writable, load_runs, upgrade_theory, write_theory
from mock_server.vocabulary import OneLineParser


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench plot",
        description="Re-draw the plots and report.md of a results "
        "directory from its files, without re-running anything.",
    )
    parser.add_argument("results_dir", type=Path, help="a directory written by python -m bench")
    parser.add_argument(
        "--theory",
        action="store_true",
        help="work theory out again from the runs' scenario and knobs (a simulation, no "
        "server) and rewrite theory.json: for results recorded before theory modelled a client",
    )
    args = parser.parse_args(argv)
    runs = load_runs(args.results_dir)  # before matplotlib loads: bad input fails fast
    check_writable(args.results_dir)
    if args.theory:
        from bench.endpoints.registry import theory_for_runs

        write_theory(args.results_dir, theory_for_runs(runs))
    theory = upgrade_theory(args.results_dir)
    write_summary(args.results_dir, runs, theory)
    print(format_summary(runs, theory))
    from bench.output.report import write_report

    write_report(args.results_dir, runs, theory)
    print(f"\nRe-drawn: {args.results_dir}")
    return 0
