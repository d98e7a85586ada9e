"""`report.md`: the plots, the numbers and what they mean, from the files alone.

Every measured figure in the report is computed here from `runs.jsonl`, and
every figure of theory's is read from `theory.json` (computed when the runs
were made); nothing here runs theory, so a report re-drawn anywhere says
what the first one said.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from pathlib import Path, PurePath

from bench.endpoints.openai.plots import PROGRESS_FILE
from bench.output.explain import Context, client_facts, theory_text
from bench.output.matrix import has_matrix, matrix_markdown
from bench.output.plots import (
    MAKESPAN_FILE,
    REJECTIONS_FILE,
    THROUGHPUT_FILE,
    TIMELINE_FILE,
    client_timeline_file,
    draw_all,
)
from bench.output.scale_plots import IN_FLIGHT_FILE, LATENCY_FILE, WINDOWS_FILE
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
    gave_up,
    gave_up_stats,
    ok_runs,
    percentile,
    representative_run,
    speedups,
)
from bench.running.shell_command import command_paragraph, spec_for
from bench.theory.replay import replay_rows
from bench.theory.schedules import ONE_AT_A_TIME

# -- measured, in words ----------------------------------------------------------


def _measured_sleeps(runs: Sequence[RunRecord]) -> list[float]:
    """Median retry sleep (scenario seconds) before the 2nd, 3rd, ... attempt:
    from one attempt's finish to the next attempt of the same request."""
    gaps: dict[int, list[float]] = {}
    for run in runs:
        attempts = sorted(run.attempts, key=lambda a: (a.request, a.attempt))
        for before, after in itertools.pairwise(attempts):
            if before.request == after.request:
                gaps.setdefault(after.attempt, []).append(
                    run.scenario.seconds(after.queued - before.finished)
                )
    return [statistics.median(gaps[k]) for k in sorted(gaps)]


def measured_text(stats: ClientStats, runs: Sequence[RunRecord]) -> str:
    """What the runs showed, every number from the records."""
    spec = spec_for(stats.client, runs[0].command.command if runs and runs[0].command else None)
    parts = [
        f"Measured: {stats.mean:.2f} s ± {stats.stddev:.2f} s over {stats.runs} "
        f"run{'s' if stats.runs != 1 else ''} ({stats.min:.2f} … {stats.max:.2f} s), "
        f"{stats.mean_rejections:.1f} × 429 per run in the server's log"
    ]
    if stats.client_rejections != stats.rejections:
        parts.append(
            f" (the client counted {stats.mean_client_rejections:.1f}: the two should agree)"
        )
    parts.append(".")
    run = representative_run(runs)
    sends = sorted(run.scenario.seconds(a.sent) for a in run.attempts)
    if len(sends) > 1:
        steps = [b - a for a, b in itertools.pairwise(sends)]
        parts.append(
            f" In its median run (run {run.run + 1}) the first request went out at "
            f"{sends[0]:.2f} s and the last at {sends[-1]:.2f} s"
            + (
                f", one every {statistics.median(steps):.2f} s (median)"
                if spec.paces and spec.policy in ONE_AT_A_TIME
                else ""
            )
            + "."
        )
    sleeps = _measured_sleeps(runs)
    if sleeps:
        parts.append(
            " Retry sleeps (median before each further attempt): "
            + ", ".join(f"{s:.1f}" for s in sleeps)
            + " s."
        )
    parts.append(client_facts(spec, runs))
    unfinished = sum(stats.incomplete)
    if unfinished:
        parts.append(f" {unfinished} requests never succeeded across the runs.")
    return "".join(parts)


# -- the report ----------------------------------------------------------------


def _scenario_table(runs: Sequence[RunRecord]) -> list[str]:
    first = runs[0]
    scenario, config = first.scenario, first.config
    limit = scenario.limit
    if scenario.api == "openai":
        # /v1/chat/completions: two limits, and an LLM's latency, not /chat's.
        served = [
            (
                "server limits",
                f"{scenario.rpm} requests and {scenario.tpm} tokens per minute "
                f"({limit.strategy}), tokens charged at admission",
            ),
            (
                "server latency",
                "time to first token, then per token answered (the endpoint's defaults)",
            ),
        ]
        if scenario.requests:
            served.append(("request set", PurePath(scenario.requests).name))
        served.append(
            (
                "rate-limit headers",
                "x-ratelimit-* on every answer"
                if scenario.headers
                else "off (--no-ratelimit-headers): 429 bodies only",
            )
        )
    else:
        served = [
            ("server limit", f"{limit.words()} ({limit.strategy})"),
            ("server latency", scenario.latency.words()),
        ]
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


def _window_figures() -> list[str]:
    return [
        "Figures that read the same at any batch size: what the server's limiter "
        "decided in each of its windows, the requests on the wire over time, and how "
        "long answered attempts took.",
        "",
        f"![Sends per window against the limit, from the server's log]({WINDOWS_FILE})",
        "",
    ]


def _two_limit_figures() -> list[str]:
    return [
        "Both limits, from the server's log: the requests each window admitted and refused "
        "against the RPM beside the tokens it charged against the TPM, and the requests "
        "and tokens completed over time against the most the limits allow by then (every "
        "client drawn, those that gave up on requests too); then the requests on the wire "
        "over time, and how long answered attempts took.",
        "",
        f"![Requests per window against the RPM, tokens against the TPM]({WINDOWS_FILE})",
        "",
        f"![Completed requests and tokens over time]({PROGRESS_FILE})",
        "",
    ]


def _client_sections(
    groups: dict[str, list[RunRecord]], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client that finished a run: what it does, theory, measured."""
    out: list[str] = []
    for client, client_runs in groups.items():
        first = client_runs[0]
        ctx = Context(
            spec=spec_for(client, first.command.command if first.command else None),
            scenario=first.scenario,
            config=first.config,
            expected=theory.for_client(client) if theory is not None else None,
        )
        out += [
            f"### {client}",
            "",
            f"![Timeline of {client}'s median run]({client_timeline_file(client)})",
            "",
        ]
        if first.command is not None:  # a shell command: no policy, no model to explain
            bound = ctx.expected.bound if ctx.expected is not None else None
            measured = measured_text(stats[client], client_runs)
            out += [f"{command_paragraph(client_runs, bound)} {measured}", ""]
            continue
        out += [
            f"*{ctx.spec.summary}* ({ctx.spec.concurrency}; policy: {ctx.spec.policy}).",
            "",
            f"{ctx.spec.explain} {theory_text(ctx)} {measured_text(stats[client], client_runs)}",
            "",
        ]
    return out


def _two_limit_sections(
    runs: Sequence[RunRecord], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client against the two limits, those that gave up included."""
    from bench.endpoints.openai.report import lost_words, policy_words, theory_words, windows_words

    lossy = gave_up_stats(runs)
    out: list[str] = []
    for client, mine in by_client(runs).items():
        drawn = [r for r in mine if r.ok or gave_up(r)]
        if client not in stats and client not in lossy:
            continue
        spec = spec_for(client)
        expected = theory.for_client(client) if theory is not None else None
        measured = (
            measured_text(stats[client], [r for r in mine if r.ok])
            if client in stats
            else lost_words(lossy[client])
        )
        facts = windows_words(representative_run(drawn)) + policy_words(
            spec, drawn, expected.bound if expected else None
        )
        out += [f"### {client}", ""]
        if client in stats:
            out += [f"![Timeline of {client}'s median run]({client_timeline_file(client)})", ""]
        out += [
            f"*{spec.summary}* ({spec.concurrency}; policy: {spec.policy}).",
            "",
            f"{spec.explain} {theory_words(expected)} {measured}{facts}",
            "",
        ]
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
    two_limits = scenario.api == "openai"
    out += [
        "",
        f"![Makespan of every run, per client]({MAKESPAN_FILE})",
        "",
        f"![Completed requests over time, per client]({THROUGHPUT_FILE})",
        "",
        f"![429s per run, per client, from the server's log]({REJECTIONS_FILE})",
        "",
        *(_two_limit_figures() if two_limits else _window_figures()),
        f"![Requests in flight over time]({IN_FLIGHT_FILE})",
        "",
        f"![Send-to-answer times of answered attempts]({LATENCY_FILE})",
        "",
        "## Each client",
        "",
    ]
    if two_limits:
        out += _two_limit_sections(runs, stats, theory)
    else:
        out += _client_sections(groups, stats, theory)
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
