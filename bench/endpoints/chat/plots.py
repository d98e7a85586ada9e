"""`/chat`'s own figure: what the server's limiter decided in each of its windows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.drawing.style import client_colour, empty_figure, save_figure
from bench.drawing.window_bars import draw_window_bars
from bench.records.results import RunRecord
from bench.records.stats import by_client, ok_runs, representative_run
from bench.records.windows import batch_start_wall, limiter_windows

WINDOWS_FILE = "windows.png"


def _representatives(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    return {c: representative_run(g) for c, g in by_client(ok_runs(runs)).items()}


def window_counts(run: RunRecord) -> list[tuple[float, int, int]]:
    """(opened, accepted, rejected) per limiter window of `run`, in scenario seconds
    from the batch's start, from the server's log alone."""
    scale = run.scenario.time_scale
    windows = limiter_windows(run.server_log, run.scenario.limit.window * scale, shared=False)
    start = batch_start_wall(run)
    return [((w.opened - start) / scale, w.accepted, w.arrived - w.accepted) for w in windows]


def draw_sends_per_window(runs: Sequence[RunRecord], path: Path) -> Path:
    """`windows.png`: per client, each limiter window's accepted and rejected sends."""
    chosen = _representatives(runs)
    if not chosen:
        return empty_figure(path, "Sends per window", "no finished run to draw")
    fig = Figure(figsize=(11, 1.0 + 2.2 * len(chosen)), layout="constrained")
    # Each panel on its own run's span: on one shared axis a short run's windows
    # are a few pixels each, and neighbouring bars merge into one block.
    axes = fig.subplots(len(chosen), 1, squeeze=False)
    for index, (ax, (client, run)) in enumerate(zip(axes[:, 0], chosen.items(), strict=True)):
        counts = window_counts(run)
        limit = run.scenario.limit
        draw_window_bars(
            ax,
            [(c[0], c[1], c[2]) for c in counts],
            limit.window,
            client_colour(index),
            limit.count,
            labels=("accepted", "rejected (429)", "limit"),
            headroom=1.25,
        )
        ax.set_xlim(0, max((c[0] + limit.window for c in counts), default=limit.window))
        ax.set_ylabel("sends")
        ax.set_title(
            f"{client}: run {run.run + 1}, {len(counts)} windows of {limit.window:g} s, "
            f"{run.rejections} × 429",
            fontsize=10,
            loc="left",
        )
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xlabel("time since the batch started (scenario seconds; each panel its own)")
    fig.suptitle("Sends in each of the server limiter's windows (server log)")
    return save_figure(fig, path)


def draw_limit_figures(run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
    """The figures of `runs` against `/chat`'s limit (`Endpoint.draw_limit_figures`)."""
    return [draw_sends_per_window(runs, run_dir / WINDOWS_FILE)]
