"""`report.md`: the plots, the numbers and what they mean, from the files alone.

Every measured figure in the report is computed here from `runs.jsonl`, and
every figure of theory's is read from `theory.json` (computed when the runs
were made); nothing here runs theory, so a report re-drawn anywhere says
what the first one said.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.endpoints.registry import endpoint_for
from bench.output.matrix import has_matrix, matrix_markdown
from bench.output.plots import (
    MAKESPAN_FILE,
    REJECTIONS_FILE,
    THROUGHPUT_FILE,
    TIMELINE_FILE,
    draw_all,
)
from bench.output.scale_plots import IN_FLIGHT_FILE, LATENCY_FILE
from bench.records.matching import clock_gaps
from bench.records.results import (
    REPORT_FILE,
    RunRecord,
    TheoryRecord,
    load_runs,
    machines,
    upgrade_theory,
)
from bench.records.scenario import format_knobs, knobs_of
from bench.records.stats import (
    ClientStats,
    by_client,
    client_stats,
    gave_up_stats,
    ok_runs,
    percentile,
    speedups,
)
from bench.theory.replay import replay_rows

# -- the report ----------------------------------------------------------------


def _scenario_table(runs: Sequence[RunRecord]) -> list[str]:
    first = runs[0]
    scenario, config = first.scenario, first.config
    served = endpoint_for(scenario).scenario_rows(scenario)
    rows = [
        ("requests per batch", str(scenario.n)),
        *served,
        ("retry schedule", config.retry),
        ("runs per client", str(max(r.run for r in runs) + 1)),
        ("clients", ", ".join(dict.fromkeys(r.client for r in runs))),
        ("time scale", f"{scenario.time_scale:g} (every figure below is in scenario seconds)"),
        ("seed", f"{scenario.seed} (run i uses seed + i)"),
    ]
    if first.overrides:
        rows.append(
            (
                "client knobs set by hand",
                ", ".join(f"{name} = {getattr(config, name)}" for name in first.overrides),
            )
        )
    if scenario.faults.error_rate:
        rows.append(("server error rate", f"{scenario.faults.error_rate:g}"))
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return lines


def _knobs_table(runs: Sequence[RunRecord]) -> list[str]:
    """The knobs each client ran with (its policy's and the request loop's)."""
    lines = ["| client | knobs it ran with |", "|---|---|"]
    lines += [
        f"| `{client}` | {format_knobs(knobs_of(client, mine[0].config))} |"
        for client, mine in by_client(runs).items()
    ]
    return lines


def _summary_table(stats: dict[str, ClientStats], theory: TheoryRecord | None) -> list[str]:
    head = "| client | mean ± σ (s) | range (s) | runs | 429s per run |"
    rule = "|---|---|---|---|---|"
    if theory is not None:
        head += " predicted mean (s) | measured ÷ bound |"
        rule += "---|---|"
    lines = [head, rule]
    for s in stats.values():
        runs = f"{s.runs}" + (f" (+{s.failed_runs} failed)" if s.failed_runs else "")
        row = (
            f"| {s.client} | {s.mean:.2f} ± {s.stddev:.2f} | {s.min:.2f} … {s.max:.2f} "
            f"| {runs} | {s.mean_rejections:.1f} |"
        )
        if theory is not None:
            e = theory.for_client(s.client)
            predicted = e.predicted_mean if e is not None else None
            spread = e.predicted_stddev if e is not None else None
            row += (
                (f" {predicted:.2f}" if predicted is not None else " —")
                + (f" ± {spread:.2f}" if predicted is not None and spread is not None else "")
                + " |"
                + (f" {s.mean / e.bound:.2f} |" if e is not None and e.bound else " — |")
            )
        lines.append(row)
    if len(stats) > 1:
        fastest, rows = speedups(stats)
        lines.append("")
        lines.append(
            f"`{fastest}` was fastest: "
            + "; ".join(
                f"{ratio:.2f} ± {err:.2f} times faster than `{c}`" for c, ratio, err in rows
            )
            + "."
        )
    return lines


def _gap_table(groups: dict[str, list[RunRecord]]) -> list[str]:
    lines = [
        "| client | attempts matched | send → arrival p50 / p99 (ms) | "
        "server done → client done p50 / p99 (ms) | unmatched |",
        "|---|---|---|---|---|",
    ]

    def pair(values: list[float]) -> str:
        if not values:
            return "—"
        return f"{percentile(values, 50) * 1000:.1f} / {percentile(values, 99) * 1000:.1f}"

    for client, runs in groups.items():
        to_arrival: list[float] = []
        to_finished: list[float] = []
        unmatched = 0
        for run in runs:
            gaps = clock_gaps(run)
            to_arrival += gaps.send_to_arrival
            to_finished += gaps.left_to_finished
            unmatched += gaps.unmatched
        lines.append(
            f"| {client} | {len(to_arrival)} | {pair(to_arrival)} | {pair(to_finished)} "
            f"| {unmatched} |"
        )
    return lines


def _replay_section(runs: Sequence[RunRecord], theory: TheoryRecord | None) -> list[str]:
    if theory is None or not theory.replays:
        return [
            "## Luck or method",
            "",
            "Replays were not stored with these runs (an older ratebench made them): "
            "`python -m bench replay` on this directory computes them.",
            "",
        ]
    out = [
        "## Luck or method",
        "",
        "A handful of runs is a small sample of latency draws. Each run below is "
        "replayed through theory's model of its client on the very latencies the server "
        "drew in that run (`python -m bench replay`), so what remains between measured "
        "and replayed is the client's and the machine's own doing.",
        "",
        "| client | runs | measured mean (s) | replayed mean (s) | worst gap (s) | "
        "best possible on the same draws (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in replay_rows(runs, theory.replays):
        out.append(
            f"| {row.client} | {row.runs} | {row.measured:.3f} | "
            + " | ".join(
                "—" if x is None else f"{x:.3f}"
                for x in (row.replayed, row.worst_gap, row.best_possible)
            )
            + " |"
        )
    out.append("")
    return out


def build_report(runs: Sequence[RunRecord], theory: TheoryRecord | None) -> str:
    """The text of report.md for these runs and their stored theory."""
    good = ok_runs(runs)
    stats = client_stats(runs)
    groups = by_client(good)
    scenario = runs[0].scenario
    out: list[str] = ["# ratebench report", ""]
    out.append(
        f"{len(runs)} runs of {len(by_client(runs))} clients, each sending "
        f"{scenario.n} requests to the rate-limited mock server. "
        "Times are makespans from the batch's start to the last response, measured inside "
        "the client's process (hyperfine's also include interpreter start-up), in scenario "
        f"seconds: wall seconds divided by the time scale ({scenario.time_scale:g})."
    )
    out += ["", "## Scenario", "", *_scenario_table(runs), ""]
    out += [
        "Each client's knobs follow the scenario unless set by hand (see above): a "
        "bucket or log takes the limit's rate and count, a pool the limit's count.",
        "",
        *_knobs_table(runs),
        "",
    ]
    for machine in machines(runs):
        out.append(f"Machine: Python {machine.python} on {machine.platform}, {machine.cpus} CPUs.")
        out.append("")
    out += ["## Summary", ""]
    if stats:
        out += _summary_table(stats, theory)
    else:
        out.append("No run finished, so there is nothing to summarise.")
    unmeasured = [c for c in by_client(runs) if c not in stats]
    if stats and unmeasured:
        out += ["", *(f"`{c}`: no completed runs (see Failed runs below)." for c in unmeasured)]
    lossy = gave_up_stats(runs)
    if lossy:
        out += [
            "",
            "Clients that gave up on requests after their retries (every request they lost "
            "was last answered 429). A batch that was not done has no makespan, and ending "
            "early by giving up is not being fast, so they are not ranked above.",
            "",
            "| client | runs | requests lost per run | batch ended at (s) | 429s per run |",
            "|---|---|---|---|---|",
            *(
                f"| {g.client} | {g.runs} | {g.mean_lost:.1f} of {g.n} | {g.mean_ended:.2f} "
                f"| {g.mean_rejections:.1f} |"
                for g in lossy.values()
            ),
        ]
    if has_matrix(stats):
        out += [
            "",
            "## The matrix: concurrency model × policy",
            "",
            "Mean makespan and 429s per run (server log). Down a column the concurrency "
            "model changes and the figures hardly do; across a row the policy changes and "
            "they change completely: the policy, not threads or asyncio, sets the speed.",
            "",
            *matrix_markdown(stats),
        ]
    api = endpoint_for(scenario)
    out += [
        "",
        f"![Makespan of every run, per client]({MAKESPAN_FILE})",
        "",
        f"![Completed requests over time, per client]({THROUGHPUT_FILE})",
        "",
        f"![429s per run, per client, from the server's log]({REJECTIONS_FILE})",
        "",
        *api.figure_lines(),
        f"![Requests in flight over time]({IN_FLIGHT_FILE})",
        "",
        f"![Send-to-answer times of answered attempts]({LATENCY_FILE})",
        "",
        "## Each client",
        "",
    ]
    out += api.client_sections(runs, stats, theory)
    if good:
        out += _replay_section(runs, theory)
    out += [
        "## All clients on one time axis",
        "",
        f"![Every attempt of each client's median run]({TIMELINE_FILE})",
        "",
        "## Failed runs",
        "",
    ]
    failed = [r for r in runs if not r.ok]
    if failed:
        out += [f"- run {r.run + 1} of `{r.client}`: {r.reason}" for r in failed]
        out.append("")
        out.append("Failed runs are left out of every figure above.")
    else:
        out.append("None: every run finished.")
    out += [
        "",
        "## How far to trust a timeline",
        "",
        "The client stamps when it sent and when it got the answer; the server stamps when "
        "the request arrived and when it handed the response back, on the same monotonic "
        "clock. Each attempt is paired with the server log entry nearest it in both send and "
        "finish (send order alone can mislead: two threads may reach the server in the "
        "other order than they stamped their sends). The gaps "
        "below are wall milliseconds (divide by the time scale, "
        f"{scenario.time_scale:g}, for scenario milliseconds): events in the timeline closer "
        "together than this cannot be told apart.",
        "",
        *_gap_table(groups),
        "",
    ]
    if any(r.rejections != r.client_rejections for r in good):
        out.append(
            "Note: in some runs the client's own 429 count differs from the server's log; "
            "the figures above use the server's."
        )
        out.append("")
    return "\n".join(out)


def write_report(
    run_dir: Path,
    runs: Sequence[RunRecord] | None = None,
    theory: TheoryRecord | None = None,
) -> Path:
    """Draw every plot of `run_dir` and write its `report.md`; returns the report's path.

    `runs` and `theory` are read from the directory's files unless given.
    """
    if runs is None:
        runs = load_runs(run_dir)
        theory = upgrade_theory(run_dir)
    draw_all(run_dir, runs, theory)
    path = run_dir / REPORT_FILE
    path.write_text(build_report(runs, theory), encoding="utf-8")
    return path
