"""Plots of a results directory, drawn from its files alone.

Every time on every axis is in scenario seconds: wall seconds divided by the
run's time scale, so a bench at time scale 0.1 draws like one at full scale.
Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never
through pyplot, so drawing leaves no global figure state behind (the bench
may draw many times in one process, and tests run in parallel).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

# Set before anything can pull in pyplot: the bench runs headless (CI, ssh).
matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bench.drawing.style import (
    client_colour,
    client_style,
    client_timeline_file,
    empty_figure,
    save_figure,
)
from bench.endpoints.registry import endpoint_for
from bench.records.results import RunRecord, TheoryRecord, load_runs, load_theory
from bench.records.stats import by_client, ok_runs, representative_run
from bench.records.sweeps import SweepSummary

TIMELINE_FILE = "timeline.png"
THROUGHPUT_FILE = "throughput.png"
REJECTIONS_FILE = "rejections.png"
MAKESPAN_FILE = "makespan.png"

# One colour per outcome, chosen so that red means "the server said no" and
# nothing else is red; grey and orange are failures of another kind.
OUTCOME_COLOURS = {
    "ok": "#2ca02c",
    "rate_limited": "#d62728",
    "error": "#7f7f7f",
    "timeout": "#ff7f0e",
}
OUTCOME_LABELS = {
    "ok": "attempt answered 200",
    "rate_limited": "attempt rejected (429)",
    "error": "attempt failed (error)",
    "timeout": "attempt timed out",
}
WAIT_COLOUR = "#9ecae1"


# -- timeline ---------------------------------------------------------------


#: Rows a timeline draws at most: past this, every k-th request (a sample
#: across the whole batch) is drawn, and the title says so.
TIMELINE_ROWS = 100


def timeline_sample(n: int) -> list[int]:
    """The requests a timeline of an `n`-request batch draws: all, or every k-th."""
    step = max(1, -(-n // TIMELINE_ROWS))
    return list(range(0, n, step))


def _draw_run_timeline(ax: Axes, run: RunRecord) -> None:
    """One run: a row per request, a bar per attempt, waits, sleeps and 429s."""
    shown = timeline_sample(run.n)
    row_of = {request: row for row, request in enumerate(shown)}
    attempts = sorted(
        (a for a in run.attempts if a.request in row_of), key=lambda a: (a.request, a.attempt)
    )
    n = len(shown)
    height = 0.6
    seconds = run.scenario.seconds
    previous_end: dict[int, float] = {}
    for a in attempts:
        row = row_of[a.request]
        queued, sent, finished = seconds(a.queued), seconds(a.sent), seconds(a.finished)
        # The retry sleep is the gap between one attempt's end and the next
        # attempt becoming ready; a thin line keeps it visible as time spent.
        if row in previous_end and queued > previous_end[row]:
            ax.plot(
                [previous_end[row], queued],
                [row, row],
                color="#555555",
                linestyle=":",
                linewidth=1.0,
            )
        if sent > queued:
            ax.broken_barh(
                [(queued, sent - queued)],
                (row - height / 2, height),
                facecolors=WAIT_COLOUR,
                edgecolor="#3182bd",
                hatch="///",
                linewidth=0.5,
            )
        ax.broken_barh(
            [(sent, max(finished - sent, 0.0))],
            (row - height / 2, height),
            facecolors=OUTCOME_COLOURS.get(a.outcome, "#7f7f7f"),
            edgecolor="black",
            linewidth=0.4,
        )
        if a.outcome == "rate_limited":
            # A rejected attempt lasts milliseconds: the bar alone would vanish.
            # Not clipped: a 429 at t = 0 would be half hidden by the axis.
            ax.plot(sent, row, marker="x", color="#d62728", markersize=7, mew=2, clip_on=False)
        previous_end[row] = finished
    ax.axvline(run.seconds, color="black", linestyle="--", linewidth=1.2)
    ax.set_ylim(n - 0.5, -0.5)  # request 0 on top, as a reader reads the batch
    ticks = range(0, n, max(1, n // 25))
    ax.set_yticks(list(ticks))
    ax.set_yticklabels([str(shown[i]) for i in ticks], fontsize=7)
    ax.set_ylabel("request" if n == run.n else f"request (every {shown[1] - shown[0]}th)")
    ax.grid(axis="x", alpha=0.3)


def _timeline_legend(outcomes: set[str]) -> list[Any]:
    """The legend of the states some drawn request was in (no "timed out" when none did)."""
    handles: list[Any] = [
        Patch(facecolor=c, edgecolor="black", label=OUTCOME_LABELS[k])
        for k, c in OUTCOME_COLOURS.items()
        if k in outcomes
    ]
    handles.append(
        Patch(
            facecolor=WAIT_COLOUR,
            edgecolor="#3182bd",
            hatch="///",
            label="ready, waiting to be sent (limiter or busy workers)",
        )
    )
    handles.append(Line2D([], [], color="#555555", linestyle=":", label="retry sleep"))
    if "rate_limited" in outcomes:
        handles.append(
            Line2D([], [], color="#d62728", marker="x", linestyle="", mew=2, label="429 received")
        )
    handles.append(Line2D([], [], color="black", linestyle="--", label="makespan"))
    return handles


def draw_timeline(
    runs: Sequence[RunRecord], path: Path, clients: Sequence[str] | None = None
) -> Path:
    """`timeline.png`: each client's median run, one panel per client.

    x: scenario seconds from the batch's start (shared by all panels, so the
    clients compare at a glance); y: request index. Bars run from send to
    finish, coloured by outcome; hatched bars are the time a request was
    ready but not yet sent (held by a limiter, or no worker free); dotted
    lines are retry sleeps; x marks 429s. `clients` restricts the panels.
    """
    groups = by_client(ok_runs(runs))
    if clients is not None:
        groups = {c: g for c, g in groups.items() if c in clients}
    if not groups:
        return empty_figure(path, "Timeline", "no finished run to draw")
    heights = [max(2.0, 0.28 * len(timeline_sample(g[0].n)) + 0.9) for g in groups.values()]
    fig = Figure(figsize=(11, sum(heights) + 1.6), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False, height_ratios=heights)
    for ax, (client, client_runs) in zip(axes[:, 0], groups.items(), strict=True):
        run = representative_run(client_runs)
        _draw_run_timeline(ax, run)
        ax.set_title(
            f"{client}: run {run.run + 1} of {len(client_runs)} (closest to the "
            f"median), makespan {run.seconds:.1f} s, "
            f"{run.rejections} × 429 in the server's log",
            fontsize=10,
            loc="left",
        )
    axes[-1, 0].set_xlabel("time since the batch started (scenario seconds)")
    # A little room left of 0, so that what happens at t = 0 (sends, 429s) stands clear.
    longest = max(representative_run(g).seconds for g in groups.values())
    axes[0, 0].set_xlim(left=-0.015 * longest)
    fig.suptitle(
        "Every attempt of one representative run per client"
        if len(groups) > 1
        else "Every attempt of one representative run"
    )
    drawn = [representative_run(g) for g in groups.values()]
    fig.legend(
        handles=_timeline_legend({a.outcome for run in drawn for a in run.attempts}),
        loc="outside lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    return save_figure(fig, path)


# -- throughput -------------------------------------------------------------


def completion_curve(run: RunRecord) -> list[float]:
    """Sorted finish times (scenario seconds) of the successful attempts."""
    return sorted(run.scenario.seconds(a.finished) for a in run.attempts if a.outcome == "ok")


def draw_throughput(runs: Sequence[RunRecord], path: Path) -> Path:
    """`throughput.png`: completed requests against scenario seconds.

    A bold step line per client for its median run, thin lines for its other
    runs (the spread), and the server limit's slope as a dotted ceiling from the
    origin: no client can complete requests faster than that for long.
    """
    good = ok_runs(runs)
    groups = by_client(good)
    if not groups:
        return empty_figure(path, "Throughput", "no finished run to draw")
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.add_subplot()
    longest = 0.0
    most = 0
    for index, (client, client_runs) in enumerate(groups.items()):
        style = client_style(index)
        colour = style.colour
        chosen = representative_run(client_runs)
        for run in client_runs:
            times = completion_curve(run)
            xs = [0.0, *times]
            ys = list(range(len(xs)))
            longest = max(longest, run.seconds)
            most = max(most, len(times))
            if run is chosen:
                # Markers spaced along the line (about eight per curve) tell the
                # clients apart where colours fail: grey-scale print, colour blindness.
                ax.step(
                    xs,
                    ys,
                    where="post",
                    color=colour,
                    linewidth=2.2,
                    linestyle=style.linestyle,
                    marker=style.marker,
                    markevery=max(1, len(xs) // 8),
                    markersize=6,
                    markeredgecolor="black",
                    markeredgewidth=0.5,
                    label=client,
                )
            else:
                ax.step(
                    xs,
                    ys,
                    where="post",
                    color=colour,
                    linewidth=0.8,
                    linestyle=style.linestyle,
                    alpha=0.35,
                )
    scenario = good[0].scenario
    slope, words = endpoint_for(scenario).throughput_limit(scenario)
    end = min(longest, most / slope) if most else longest
    # The limit counts sends, this axis completions: a ceiling no curve reaches, since
    # each completion comes a latency after its send. Drawn and named as one.
    ax.plot(
        [0.0, end],
        [0.0, slope * end],
        color="grey",
        linestyle=":",
        linewidth=1.2,
        label=f"{words}; a ceiling on sends: each completion comes a latency later",
    )
    ax.plot([], [], color="grey", linewidth=0.8, alpha=0.5, label="other runs (thin lines)")
    ax.set_xlim(left=0)
    ax.set_ylim(0, most + 0.5)
    ax.set_xlabel("time since the batch started (scenario seconds)")
    ax.set_ylabel("requests completed (200 received)")
    ax.set_title("Completed requests over time (bold: each client's median run)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return save_figure(fig, path)


# -- rejections -------------------------------------------------------------


def draw_rejections(runs: Sequence[RunRecord], path: Path) -> Path:
    """`rejections.png`: 429s per run per client, counted in the server's log.

    Grouped bars, one group per run; a black tick marks the client's own
    count wherever it disagrees with the server (it should not).
    """
    groups = by_client(ok_runs(runs))
    if not groups:
        return empty_figure(path, "Rejections", "no finished run to draw")
    run_numbers = sorted({r.run for g in groups.values() for r in g})
    fig = Figure(figsize=(max(7.0, 1.0 + 0.55 * len(run_numbers) * len(groups)), 4.8))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(groups)
    label_bars = len(run_numbers) * len(groups) <= 60
    disagreement = False
    for index, (client, client_runs) in enumerate(groups.items()):
        by_run = {r.run: r for r in client_runs}
        xs = [
            i + (index - (len(groups) - 1) / 2) * width
            for i, n in enumerate(run_numbers)
            if n in by_run
        ]
        present = [n for n in run_numbers if n in by_run]
        counts = [by_run[n].rejections for n in present]
        mean = statistics.fmean(counts)
        bars = ax.bar(
            xs,
            counts,
            width=width * 0.95,
            color=client_colour(index),
            hatch=client_style(index).hatch,
            edgecolor="black",
            linewidth=0.4,
            label=f"{client} (mean {mean:.1f} per run)",
        )
        if label_bars:
            # Zero-height bars are invisible; the number says "none" outright.
            ax.bar_label(bars, fontsize=7, padding=1)
        own = [by_run[n].client_rejections for n in present]
        for x, server, client_count in zip(xs, counts, own, strict=True):
            if server != client_count:
                disagreement = True
                ax.plot(x, client_count, marker="_", color="black", markersize=12, mew=2)
    if disagreement:
        ax.plot(
            [],
            [],
            marker="_",
            color="black",
            linestyle="",
            mew=2,
            label="client's own count, where it differs",
        )
    ax.set_xticks(range(len(run_numbers)))
    ax.set_xticklabels([str(n + 1) for n in run_numbers])
    ax.set_xlabel("run")
    ax.set_ylabel("429 responses in the run (server log)")
    ax.set_title("Requests the server rejected, per run")
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1] * 1.12))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path)


# -- makespan ---------------------------------------------------------------


def draw_makespan(runs: Sequence[RunRecord], theory: TheoryRecord | None, path: Path) -> Path:
    """`makespan.png`: each client's makespans (scenario seconds) over its runs.

    A box plot with every run as a point; from the stored theory, each
    client's predicted mean ± σ as a diamond with error bar, and the bound
    as a dashed line (one across the plot when every client shares it).
    """
    groups = by_client(ok_runs(runs))
    if not groups:
        return empty_figure(path, "Makespan", "no finished run to draw")
    shared = theory.bound if theory is not None else None
    top_bound = shared[0] if shared is not None else None
    names = list(groups)
    fig = Figure(figsize=(max(6.5, 2.2 * len(names) + 1.5), 5.2), layout="constrained")
    ax = fig.add_subplot()
    data = [[r.seconds for r in groups[c]] for c in names]
    positions = list(range(1, len(names) + 1))
    ax.boxplot(
        data,
        positions=positions,
        widths=0.45,
        showfliers=False,  # the points below show every run, outliers included
        medianprops={"color": "black"},
    )
    shown_prediction = shown_bound = False
    for index, (pos, values) in enumerate(zip(positions, data, strict=True)):
        # Spread the points sideways by a fixed pattern, so re-drawing is stable.
        offsets = [((i % 7) - 3) * 0.035 for i in range(len(values))]
        ax.scatter(
            [pos + o for o in offsets],
            values,
            color=client_colour(index),
            marker=client_style(index).marker,
            edgecolor="black",
            linewidth=0.4,
            zorder=3,
            s=28,
        )
        expected = theory.for_client(names[index]) if theory is not None else None
        if expected is None:
            continue
        if expected.predicted_mean is not None:
            ax.errorbar(
                pos + 0.33,
                expected.predicted_mean,
                yerr=expected.predicted_stddev,
                fmt="D",
                color="#6a3d9a",
                capsize=4,
                markersize=6,
                label="_nolegend_" if shown_prediction else "theory: predicted mean ± σ",
            )
            shown_prediction = True
        if expected.bound != top_bound:
            ax.hlines(
                expected.bound,
                pos - 0.4,
                pos + 0.4,
                colors="black",
                linestyles="--",
                label="_nolegend_" if shown_bound else "bound: best possible without a 429",
            )
            shown_bound = True
    if top_bound is not None:
        ax.axhline(
            top_bound,
            color="black",
            linestyle="--",
            linewidth=1,
            label="_nolegend_" if shown_bound else "bound: best possible without a 429",
        )
        shown_bound = True
    ax.set_xticks(positions)
    ax.set_xticklabels(
        [f"{c}\n{len(d)} runs" for c, d in zip(names, data, strict=True)], fontsize=9
    )
    ax.set_ylabel("makespan: batch start to last response (scenario seconds)")
    ax.set_title("Makespan of every run (box: quartiles, line: median)")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if shown_prediction or shown_bound:
        ax.legend(fontsize=9, loc="upper left")
    return save_figure(fig, path)


def draw_all(
    run_dir: Path,
    runs: Sequence[RunRecord] | None = None,
    theory: TheoryRecord | None = None,
) -> list[Path]:
    """Draw every plot of `run_dir` into it; returns the paths written.

    `runs` and `theory` are read from the directory's files unless given.
    Besides the four comparison figures, one `timeline-<client>.png` per
    client, so that the report can show each client next to its explanation.
    """
    if runs is None:
        runs = load_runs(run_dir)
        theory = load_theory(run_dir)
    paths = [
        draw_timeline(runs, run_dir / TIMELINE_FILE),
        draw_throughput(runs, run_dir / THROUGHPUT_FILE),
        draw_rejections(runs, run_dir / REJECTIONS_FILE),
        draw_makespan(runs, theory, run_dir / MAKESPAN_FILE),
    ]
    for client in by_client(ok_runs(runs)):
        paths.append(draw_timeline(runs, run_dir / client_timeline_file(client), [client]))
    from bench.output.scale_plots import draw_scale_plots

    paths += draw_scale_plots(run_dir, runs)
    return paths


# -- sweep ------------------------------------------------------------------


def draw_sweep(summary: SweepSummary, path: Path) -> Path:
    """`sweep-<knob>.png`: makespan and 429s against one knob, theory drawn over them.

    Left, every run's makespan (points), their mean (line), Little's law's
    n / throughput (dashed) and the simulator's mean ± σ (band) where it
    has a model; right, 429s per run and the simulator's. A dotted line
    marks where Little's law moves the bottleneck from the client to the
    server's limit. Theory's figures are the stored ones.
    """
    knob = summary.knob
    rows = sorted((r for r in summary.rows if r.times), key=lambda r: r.value)
    if not rows:
        return empty_figure(path, f"Sweep of {knob}", "no finished run to draw")
    xs = [r.value for r in rows]
    fig = Figure(figsize=(12.5, 5.0), layout="constrained")
    ax_time, ax_rej = fig.subplots(1, 2)
    colour = client_colour(0)
    for r in rows:
        for ax, values in ((ax_time, r.times), (ax_rej, r.rejections)):
            ax.scatter(
                [r.value] * len(values),
                list(values),
                color=colour,
                edgecolor="black",
                linewidth=0.4,
                s=24,
                zorder=3,
            )
    ax_time.plot(xs, [r.mean for r in rows], color=colour, marker="o", label="measured mean")
    ax_rej.plot(
        xs, [r.mean_rejections for r in rows], color=colour, marker="o", label="measured mean"
    )
    little = [
        (r.value, r.expected.little_makespan)
        for r in rows
        if r.expected is not None and r.expected.little_makespan is not None
    ]
    if little:
        ax_time.plot(
            [x for x, _ in little],
            [y for _, y in little],
            color="black",
            linestyle="--",
            label="Little's law: n / min(in flight ÷ mean latency, limit)",
        )
    simulated = [
        (r.value, r.expected)
        for r in rows
        if r.expected is not None and r.expected.predicted_mean is not None
    ]
    if simulated:
        sx = [x for x, _ in simulated]
        mean = [e.predicted_mean or 0.0 for _, e in simulated]
        spread = [e.predicted_stddev or 0.0 for _, e in simulated]
        ax_time.plot(sx, mean, color="#6a3d9a", marker="D", label="simulator: mean ± σ")
        ax_time.fill_between(
            sx,
            [m - s for m, s in zip(mean, spread, strict=True)],
            [m + s for m, s in zip(mean, spread, strict=True)],
            color="#6a3d9a",
            alpha=0.15,
        )
        ax_rej.plot(
            sx,
            [e.predicted_rejections or 0.0 for _, e in simulated],
            color="#6a3d9a",
            marker="D",
            label="simulator: mean",
        )
    bounds = {r.expected.bound for r in rows if r.expected is not None}
    if len(bounds) == 1 and all(r.expected is not None for r in rows):
        bound = bounds.pop()
        ax_time.axhline(
            bound, color="grey", linestyle=":", label=f"best possible without a 429 ({bound:.2f} s)"
        )
    # Where Little's law says the limit, not the client, becomes the bottleneck,
    # and where the first sends alone already overflow the server's window.
    for edge, text, colour_ in _sweep_edges(summary):
        for ax in (ax_time, ax_rej):
            ax.axvline(edge, color=colour_, linestyle=":", linewidth=1.2)
        ax_rej.text(
            edge,
            0.98,
            text,
            transform=ax_rej.get_xaxis_transform(),
            va="top",
            ha="left",
            fontsize=8,
            color=colour_,
        )
    client = summary.client
    runs = max(r.runs for r in rows)
    plural = "run" if runs == 1 else "runs"
    ax_time.set_title(f"{client}: makespan against {knob} ({runs} {plural} per value)")
    ax_time.set_xlabel(knob)
    ax_time.set_ylabel("makespan: batch start to last response (scenario seconds)")
    ax_time.set_ylim(bottom=0)
    ax_time.grid(alpha=0.3)
    ax_time.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ax_rej.set_title(f"{client}: 429s per run against {knob} (server log)")
    ax_rej.set_xlabel(knob)
    ax_rej.set_ylabel("429 responses per run")
    ax_rej.set_ylim(bottom=0, top=max(1.0, ax_rej.get_ylim()[1] * 1.1))
    ax_rej.grid(alpha=0.3)
    ax_rej.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    for ax in (ax_time, ax_rej):
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:g}" for x in xs])
    return save_figure(fig, path)


def _sweep_edges(summary: SweepSummary) -> list[tuple[float, str, str]]:
    """(knob value, label, colour) of the lines worth marking on a workers sweep.

    More workers than the limit's burst overflow the first window at once
    (429s from there on); past limit × mean latency, Little's law says the
    limit, not the workers, caps the throughput.
    """
    if summary.knob != "workers":
        return []
    limit, latency = summary.scenario.limit, summary.scenario.latency.mean
    crossover = limit.per_second * latency
    return [
        (
            limit.count + 0.5,
            f" more than {limit.count} at t = 0:\n the first window\n rejects the rest",
            "#ff7f0e",
        ),
        (
            crossover,
            f" {crossover:g} = {limit.per_second:g}/s × {latency:g} s:\n"
            " Little's law's\n limit-bound from here",
            "#d62728",
        ),
    ]
