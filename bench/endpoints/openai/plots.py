"""Plots of a batch against two limits at once: the OpenAI-compatible endpoint.

`/chat` has one limit, and `windows.png` and `throughput.png` draw sends
against it. The OpenAI-compatible endpoint admits a request only if its
window has room for one more request (RPM) and for its charge (TPM), so a
reader needs both limits in view, each from the server's own log:

- `windows.png`: per client, every window of its representative run, the
  requests admitted and refused against the RPM (left) and the tokens
  charged against the TPM (right): which limit each window filled, and
  whether the client filled it.
- `progress.png`: requests and tokens completed over time (a request is
  complete when the server handed over its last byte), against the most
  the limits let anyone have admitted by then: the RPM and the TPM at the
  start of every window.

A client that gave up on requests (the SDK's retries ran out) is drawn too:
its refusals are what the figure is for. Times are scenario seconds from
the batch's start, as in every other plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from bench.drawing.style import client_colour, client_style, empty_figure, save_figure
from bench.drawing.window_bars import draw_window_bars
from bench.endpoints.llm_plots import drawable, run_title
from bench.endpoints.openai.limits import OpenAILimits
from bench.records.results import RunRecord
from bench.records.windows import batch_start_wall, limiter_windows
from mock_server.vocabulary import MINUTE

WINDOWS_FILE = "windows.png"
PROGRESS_FILE = "progress.png"


@dataclass(frozen=True, slots=True)
class LimitWindow:
    """One window of the endpoint's limits, as its log shows it; `opened` in
    scenario seconds from the batch's start."""

    opened: float
    admitted: int
    refused: int
    tokens: int


def limits_of(run: RunRecord) -> tuple[int, int, float]:
    """(RPM, TPM, window in scenario seconds) the run's server enforced."""
    s = run.scenario
    limits = OpenAILimits.of(s)
    return limits.rpm, limits.tpm, MINUTE


def limit_windows(run: RunRecord) -> list[LimitWindow]:
    """Every window of the run's request limit, with its requests and tokens."""
    scale = run.scenario.time_scale
    _, _, window = limits_of(run)
    start = batch_start_wall(run)
    return [
        LimitWindow((w.opened - start) / scale, w.accepted, w.arrived - w.accepted, w.tokens)
        for w in limiter_windows(run.server_log, window * scale, shared=True)
    ]


def completions(run: RunRecord) -> list[tuple[float, int]]:
    """(when, tokens charged) of every admitted request, in completion order:
    scenario seconds from the batch's start to the server's last byte."""
    done = [
        (run.scenario.seconds(e.left - run.started), e.tokens_charged or 0)
        for e in run.server_log
        if e.accepted and e.left is not None
    ]
    return sorted(done)


def has_token_charges(runs: Sequence[RunRecord]) -> bool:
    return any(e.tokens_charged is not None for r in runs for e in r.server_log)


def draw_requests_and_tokens_per_window(runs: Sequence[RunRecord], path: Path) -> Path:
    """`windows.png`: requests per window against the RPM, tokens against the TPM."""
    chosen = drawable(runs)
    if not chosen:
        return empty_figure(path, "Requests and tokens per window", "no run to draw")
    fig = Figure(figsize=(12, 1.2 + 2.3 * len(chosen)), layout="constrained")
    axes = fig.subplots(len(chosen), 2, sharex=True, squeeze=False)
    tokens_known = has_token_charges(runs)
    for index, (client, run) in enumerate(chosen.items()):
        rpm, tpm, window = limits_of(run)
        counted = limit_windows(run)
        starts = [w.opened for w in counted]
        left, right = axes[index]
        draw_window_bars(
            left,
            [(w.opened, w.admitted, w.refused) for w in counted],
            window,
            client_colour(index),
            rpm,
            labels=("admitted", "refused (429)", f"RPM {rpm}"),
            headroom=1.2,
        )
        left.set_ylabel("requests")
        left.set_title(run_title(client, run), fontsize=10, loc="left")
        left.legend(fontsize=8, loc="upper right")
        right.axhline(tpm, color="black", linestyle="--", linewidth=1.0, label=f"TPM {tpm:,}")
        if tokens_known:
            right.bar(
                starts,
                [w.tokens for w in counted],
                width=window,
                align="edge",
                color=client_colour(index),
                label="tokens charged",
            )
        else:
            right.text(
                0.5,
                0.5,
                "this log has no token charges (recorded before they were)",
                ha="center",
                va="center",
                transform=right.transAxes,
                fontsize=9,
            )
        right.set_ylim(0, max([tpm, *(w.tokens for w in counted)]) * 1.2)
        right.set_ylabel("tokens")
        right.legend(fontsize=8, loc="upper right")
        for ax in (left, right):
            ax.grid(axis="y", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("window opened at (scenario seconds since the batch started)")
    fig.suptitle(
        "Each window of the server's limits: requests against the RPM, tokens "
        "against the TPM (server log)"
    )
    return save_figure(fig, path)


def allowed_by(times: Sequence[float], per_window: int, window: float) -> list[int]:
    """The most any client could have had admitted by each time: `per_window` at
    the start of every window from t = 0."""
    return [per_window * (math.floor(t / window) + 1) for t in times]


def draw_progress(runs: Sequence[RunRecord], path: Path) -> Path:
    """`progress.png`: requests and tokens completed over time, per client."""
    chosen = drawable(runs)
    if not chosen:
        return empty_figure(path, "Completed requests and tokens", "no run to draw")
    fig = Figure(figsize=(12, 5.2), layout="constrained")
    by_requests, by_tokens = fig.subplots(1, 2, sharex=True)
    longest = 0.0
    for index, (client, run) in enumerate(chosen.items()):
        done = completions(run)
        times = [0.0, *(t for t, _ in done)]
        tokens = [0]
        for _, charge in done:
            tokens.append(tokens[-1] + charge)
        style = client_style(index)
        for ax, ys in ((by_requests, list(range(len(times)))), (by_tokens, tokens)):
            ax.step(
                times,
                ys,
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
    rpm, tpm, window = limits_of(some)
    grid = [i * longest / 400 for i in range(401)]
    by_requests.step(
        grid,
        allowed_by(grid, rpm, window),
        where="post",
        color="black",
        linestyle="--",
        linewidth=1.0,
        label=f"most admitted by then: {rpm} a window",
    )
    by_tokens.step(
        grid,
        allowed_by(grid, tpm, window),
        where="post",
        color="black",
        linestyle="--",
        linewidth=1.0,
        label=f"most charged by then: {tpm:,} a window",
    )
    by_requests.set_ylim(0, some.n * 1.1)
    if has_token_charges(runs):
        total = max((sum(c for _, c in completions(r)) for r in chosen.values()), default=0)
        by_tokens.set_ylim(0, max(total, 1) * 1.1)
    else:
        by_tokens.text(
            0.5,
            0.5,
            "this log has no token charges (recorded before they were)",
            ha="center",
            va="center",
            transform=by_tokens.transAxes,
            fontsize=9,
        )
    by_requests.set_ylabel("requests completed")
    by_tokens.set_ylabel("tokens charged by completed requests")
    for ax in (by_requests, by_tokens):
        ax.set_xlim(0, longest * 1.02 if longest else 1)
        ax.set_xlabel("time since the batch started (scenario seconds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Completed requests and tokens over time (server log, representative run)")
    return save_figure(fig, path)


def draw_limit_figures(run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
    """The figures of `runs` against the RPM and TPM (`Endpoint.draw_limit_figures`)."""
    return [
        draw_requests_and_tokens_per_window(runs, run_dir / WINDOWS_FILE),
        draw_progress(runs, run_dir / PROGRESS_FILE),
    ]
