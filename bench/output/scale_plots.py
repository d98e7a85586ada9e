"""Plots that stay readable at any batch size, drawn from a results directory's files.

A per-request timeline has a row per request: right for the write-up's 10,
unreadable (and slow to draw) at 10,000. These three figures summarise a
client's representative run instead, and cost the same at any size:

- `windows.png`: what the server's limiter decided in each of its windows,
  accepted and rejected, against the limit: did the client fill every window,
  and did it overflow any?
- `in-flight.png`: the client's requests on the wire over time (Little's law
  made visible: a pool of N is a flat line at N).
- `latency.png`: the distribution of attempt times (send to answer) of the
  answered attempts, against the server's drawn latency range.

Times are scenario seconds from the batch's start, as in every other plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.drawing.style import client_colour, client_style, empty_figure, save_figure
from bench.endpoints.registry import endpoint_for
from bench.records.results import RunRecord
from bench.records.stats import by_client, in_flight_levels, ok_runs, representative_run

IN_FLIGHT_FILE = "in-flight.png"
LATENCY_FILE = "latency.png"

LINE_STYLES = ("-", "--", "-.", ":")


def _representatives(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    return {c: representative_run(g) for c, g in by_client(ok_runs(runs)).items()}


def in_flight_steps(run: RunRecord) -> tuple[list[float], list[int]]:
    """Times (scenario seconds) and the number of attempts on the wire from each."""
    levels = in_flight_levels(run.attempts)
    times = [0.0] + [run.scenario.seconds(at) for at, _ in levels]
    return times, [0] + [level for _, level in levels]


def draw_in_flight(runs: Sequence[RunRecord], path: Path) -> Path:
    """`in-flight.png`: attempts on the wire over time, one line per client."""
    chosen = _representatives(runs)
    if not chosen:
        return empty_figure(path, "Requests in flight", "no finished run to draw")
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for index, (client, run) in enumerate(chosen.items()):
        times, counts = in_flight_steps(run)
        ax.step(
            times,
            counts,
            where="post",
            color=client_colour(index),
            linestyle=LINE_STYLES[index % len(LINE_STYLES)],
            # A marker per client as well: four line styles repeat past four clients.
            marker=client_style(index).marker,
            markevery=max(1, len(times) // 8),
            label=f"{client} (run {run.run + 1}, peak {max(counts)})",
        )
    ax.set_xlabel("time since the batch started (scenario seconds)")
    ax.set_ylabel("attempts on the wire")
    ax.set_title("Requests in flight (client records, representative run)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path)


def draw_latency(runs: Sequence[RunRecord], path: Path) -> Path:
    """`latency.png`: distribution of answered attempts' send-to-answer times."""
    chosen = _representatives(runs)
    answered = {
        client: sorted(
            run.scenario.seconds(a.finished - a.sent) for a in run.attempts if a.outcome == "ok"
        )
        for client, run in chosen.items()
    }
    answered = {c: xs for c, xs in answered.items() if xs}
    if not answered:
        return empty_figure(path, "Latency", "no answered attempt to draw")
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for index, (client, xs) in enumerate(answered.items()):
        share = [(i + 1) / len(xs) for i in range(len(xs))]
        ax.step(
            xs,
            share,
            where="post",
            color=client_colour(index),
            linestyle=LINE_STYLES[index % len(LINE_STYLES)],
            marker=client_style(index).marker,
            markevery=max(1, len(xs) // 8),
            label=f"{client} ({len(xs)} answered)",
        )
    latency = next(iter(chosen.values())).scenario.latency
    ax.axvspan(latency.lo, latency.hi, color="#dddddd", alpha=0.6, label="server's drawn range")
    ax.set_xlabel("send to answer (scenario seconds)")
    ax.set_ylabel("share of answered attempts")
    ax.set_title("How long answered attempts took (representative run)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    return save_figure(fig, path)


def draw_scale_plots(run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
    """The three size-proof figures of `runs` into `run_dir`; against the
    OpenAI-compatible endpoint, windows of both limits and the progress on each
    (`bench.endpoints.openai.plots`) instead of one limit's windows."""
    paths = [
        draw_in_flight(runs, run_dir / IN_FLIGHT_FILE),
        draw_latency(runs, run_dir / LATENCY_FILE),
    ]
    if not runs:
        return paths
    figures: list[Path] = endpoint_for(runs[0].scenario).draw_limit_figures(run_dir, runs)
    return figures + paths
