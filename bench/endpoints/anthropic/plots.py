"""Plots of a batch against Anthropic's three token buckets, from the server's log.

- `windows.png`: per client (its representative run), each minute from the
  batch's start, the requests, input tokens and output tokens the server
  charged in it, against each limit: which bucket each minute drew on, and
  how far past a minute's worth a bucket that starts full lets the first
  minute go.
- `progress.png`: what the server charged so far, for each of the three
  limits, against the most a bucket that starts full can have given by
  then (`capacity + rate x t`): a client that keeps the buckets runs along
  that line wherever its limit binds.

Output tokens are charged at admission under `--otpm-charge max-tokens`,
and when produced under `produced` (`output_charged_at` in the log). Times
are scenario seconds from the batch's start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.drawing.style import client_colour, client_style, empty_figure, save_figure
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.endpoints.llm_plots import drawable, run_title
from bench.records.results import RunRecord
from bench.records.windows import batch_start_wall
from mock_server.vocabulary import MINUTE

WINDOWS_FILE = "windows.png"
PROGRESS_FILE = "progress.png"
LIMIT_NAMES = ("requests", "input tokens", "output tokens")


def charges(run: RunRecord) -> list[list[tuple[float, int]]]:
    """(when, how much) of every charge the server made, for each of the three limits,
    in time order: scenario seconds from the batch's start."""
    start = batch_start_wall(run)
    scale = run.scenario.time_scale
    made: list[list[tuple[float, int]]] = [[], [], []]
    for e in run.server_log:
        if not e.accepted or e.wall is None or e.input_charged is None:
            continue
        at = (e.wall - start) / scale
        made[0].append((at, 1))
        made[1].append((at, e.input_charged))
        if e.output_charged:
            made[2].append((at, e.output_charged))
        if e.output_charged_later and e.output_charged_at is not None:
            made[2].append(((e.output_charged_at - start) / scale, e.output_charged_later))
    return [sorted(m) for m in made]


def per_minute(made: Sequence[tuple[float, int]]) -> list[int]:
    """What was charged in each minute from the batch's start."""
    if not made:
        return []
    counts = [0] * (math.floor(max(t for t, _ in made) / MINUTE) + 1)
    for t, amount in made:
        counts[max(0, math.floor(t / MINUTE))] += amount
    return counts


def _amounts(limits: AnthropicLimits) -> tuple[int, int, int]:
    return (limits.rpm, limits.itpm, limits.otpm)


def draw_minutes(runs: Sequence[RunRecord], path: Path) -> Path:
    """`windows.png`: what each minute charged to each bucket, against its limit."""
    chosen = drawable(runs)
    if not chosen:
        return empty_figure(path, "Charges per minute", "no run to draw")
    fig = Figure(figsize=(15, 1.2 + 2.3 * len(chosen)), layout="constrained")
    axes = fig.subplots(len(chosen), 3, sharex=True, squeeze=False)
    for index, (client, run) in enumerate(chosen.items()):
        amounts = _amounts(AnthropicLimits.of(run.scenario))
        for k, (ax, made) in enumerate(zip(axes[index], charges(run), strict=True)):
            counts = per_minute(made)
            ax.bar(
                [i * MINUTE for i in range(len(counts))],
                counts,
                width=MINUTE * 0.9,
                align="edge",
                color=client_colour(index),
                label=f"{LIMIT_NAMES[k]} charged",
            )
            limit = amounts[k]
            ax.axhline(
                limit, color="black", linestyle="--", linewidth=1.0, label=f"limit {limit:,}"
            )
            ax.axhline(
                2 * limit,
                color="grey",
                linestyle=":",
                linewidth=1.0,
                label="first minute's most (full + refill)",
            )
            ax.set_ylim(0, max([2 * limit, *counts]) * 1.15)
            ax.set_ylabel(LIMIT_NAMES[k])
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=7, loc="upper right")
        axes[index][0].set_title(run_title(client, run), fontsize=10, loc="left")
    for ax in axes[-1]:
        ax.set_xlabel("minute from (scenario seconds since the batch started)")
    fig.suptitle(
        "Each minute's charges to the three buckets (server log): requests, input tokens, "
        "output tokens"
    )
    return save_figure(fig, path)


def draw_progress(runs: Sequence[RunRecord], path: Path) -> Path:
    """`progress.png`: charged so far to each bucket, against the most a bucket that
    starts full gives by then."""
    chosen = drawable(runs)
    if not chosen:
        return empty_figure(path, "Charged so far", "no run to draw")
    fig = Figure(figsize=(15, 5.2), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True)
    longest = 0.0
    for index, (client, run) in enumerate(chosen.items()):
        style = client_style(index)
        for ax, made in zip(axes, charges(run), strict=True):
            times = [0.0, *(t for t, _ in made)]
            total = [0]
            for _, amount in made:
                total.append(total[-1] + amount)
            ax.step(
                times,
                total,
                where="post",
                color=style.colour,
                linestyle=style.linestyle,
                marker=style.marker,
                markevery=max(1, len(times) // 8),
                linewidth=1.8,
                label=f"{client} (run {run.run + 1})",
            )
            longest = max(longest, times[-1])
    some = next(iter(chosen.values()))
    amounts = _amounts(AnthropicLimits.of(some.scenario))
    grid = [i * longest / 200 for i in range(201)]
    for k, ax in enumerate(axes):
        ax.plot(
            grid,
            [amounts[k] * (1 + t / MINUTE) for t in grid],
            color="black",
            linestyle="--",
            linewidth=1.0,
            label=f"most a full bucket gives: {amounts[k]:,} + {amounts[k]:,} a minute",
        )
        ax.set_ylabel(f"{LIMIT_NAMES[k]} charged so far")
        ax.set_xlim(0, longest * 1.02 if longest else 1)
        ax.set_xlabel("time since the batch started (scenario seconds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("What the server charged so far, to each bucket (server log, representative run)")
    return save_figure(fig, path)


def draw_limit_figures(run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
    """The figures of `runs` against the three buckets (`Endpoint.draw_limit_figures`)."""
    return [
        draw_minutes(runs, run_dir / WINDOWS_FILE),
        draw_progress(runs, run_dir / PROGRESS_FILE),
    ]
