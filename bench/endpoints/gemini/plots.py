"""The figure of a batch against Gemini's three quotas, from the server's log.

`quotas.png`, one row per client (its representative run), three panels on one
clock (scenario seconds from the batch's start), the day boundaries drawn as
dashed lines across all three:

- requests admitted in each minute against the RPM, the refused ones on top;
- input tokens admitted in each minute against the ITPM;
- requests admitted so far against the most the day's quota allows by then
  (RPD a day, day after day): where a batch waits for the next day to open.

Minutes and days are counted as the server counts them: aligned on its
clock, which the bench starts with the batch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.drawing.style import client_colour, empty_figure, save_figure
from bench.endpoints.gemini.limits import GeminiLimits
from bench.endpoints.llm_plots import drawable, run_title
from bench.records.results import RunRecord
from bench.records.windows import batch_start_wall
from mock_server.vocabulary import MINUTE

QUOTAS_FILE = "quotas.png"


def arrivals(run: RunRecord) -> list[tuple[float, bool, int]]:
    """(scenario seconds from the server's clock start, which the bench starts with
    the batch; admitted; input tokens) per attempt the server saw, in arrival order."""
    start = batch_start_wall(run)
    out = []
    for e in run.server_log:
        if e.clock is not None:  # the server's own clock, which its quotas are aligned on
            at = e.clock
        elif e.wall is not None:
            at = (e.wall - start) / run.scenario.time_scale
        else:
            continue
        out.append((at, bool(e.accepted), e.tokens_charged or 0))
    return sorted(out)


#: Wall seconds an attempt already on the wire when a 429 left the server may still
#: take to arrive: later than that, the client sent it after it could have known.
ON_THE_WIRE = 0.25


def day_refusals(run: RunRecord) -> tuple[int, int]:
    """(429s naming the day's quota, attempts that arrived in a day more than
    `ON_THE_WIRE` after that day's first such 429 had left the server)."""
    refused = [e for e in run.server_log if "rpd" in (e.refused_by or ())]
    late = 0
    for day in {e.day for e in refused}:
        first = min((e for e in refused if e.day == day), key=lambda e: e.arrival)
        left = first.left if first.left is not None else first.decided or first.arrival
        late += sum(1 for e in run.server_log if e.day == day and e.arrival > left + ON_THE_WIRE)
    return len(refused), late


def day_lines(limits: GeminiLimits, until: float) -> list[float]:
    """Every day opening up to `until`, scenario seconds from the batch's start."""
    lines, day = [], 1
    while limits.opens(day) <= until:
        lines.append(limits.opens(day))
        day += 1
    return lines


def draw_quotas(runs: Sequence[RunRecord], path: Path) -> Path:
    """`quotas.png`: see the module."""
    chosen = drawable(runs)
    if not chosen:
        return empty_figure(path, "Gemini's three quotas", "no run to draw")
    fig = Figure(figsize=(14, 3.2 * len(chosen)), layout="constrained")
    axes = fig.subplots(len(chosen), 3, squeeze=False)
    for row, (client, run) in enumerate(chosen.items()):
        limits = GeminiLimits.of(run.scenario)
        seen = arrivals(run)
        end = max((t for t, _, _ in seen), default=1.0)
        admitted = Counter(math.floor(t / MINUTE) for t, ok, _ in seen if ok)
        refused = Counter(math.floor(t / MINUTE) for t, ok, _ in seen if not ok)
        tokens: Counter[int] = Counter()
        for t, ok, charge in seen:
            if ok:
                tokens[math.floor(t / MINUTE)] += charge
        minutes = range(math.floor(end / MINUTE) + 1)
        left = [m * MINUTE for m in minutes]
        by_minute, by_tokens, by_day = axes[row]
        colour = client_colour(row)
        by_minute.bar(
            left,
            [admitted[m] for m in minutes],
            width=MINUTE * 0.9,
            align="edge",
            color=colour,
            label="admitted",
        )
        by_minute.bar(
            left,
            [refused[m] for m in minutes],
            width=MINUTE * 0.9,
            align="edge",
            bottom=[admitted[m] for m in minutes],
            color="tab:red",
            alpha=0.6,
            label="refused (429)",
        )
        by_minute.axhline(
            limits.rpm, color="black", linestyle="--", linewidth=1.0, label=f"RPM {limits.rpm}"
        )
        by_tokens.bar(
            left,
            [tokens[m] for m in minutes],
            width=MINUTE * 0.9,
            align="edge",
            color=colour,
            label="input tokens admitted",
        )
        by_tokens.axhline(
            limits.itpm, color="black", linestyle="--", linewidth=1.0, label=f"ITPM {limits.itpm:,}"
        )
        done = [t for t, ok, _ in seen if ok]
        by_day.step(
            [0.0, *done],
            range(len(done) + 1),
            where="post",
            color=colour,
            linewidth=1.8,
            label="admitted so far",
        )
        grid = [i * end / 400 for i in range(401)]
        by_day.step(
            grid,
            [limits.rpd * (limits.day_of(t) + 1) for t in grid],
            where="post",
            color="black",
            linestyle="--",
            linewidth=1.0,
            label=f"most by then: RPD {limits.rpd} a day",
        )
        by_day.set_ylim(0, run.n * 1.1)
        for ax in (by_minute, by_tokens, by_day):
            for opened in day_lines(limits, end):
                ax.axvline(opened, color="tab:purple", linestyle=":", linewidth=1.2)
            ax.set_xlim(0, end * 1.02 if end else 1)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
        by_minute.set_title(run_title(client, run), fontsize=9, loc="left")
        by_minute.set_ylabel("requests per minute")
        by_tokens.set_ylabel("input tokens per minute")
        by_day.set_ylabel("requests admitted (day quota)")
        if row == len(chosen) - 1:
            for ax in (by_minute, by_tokens, by_day):
                ax.set_xlabel("time since the batch started (scenario seconds)")
    fig.suptitle("Gemini's three quotas from the server's log (dotted: a new day opens)")
    return save_figure(fig, path)


def draw_limit_figures(run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
    return [draw_quotas(runs, run_dir / QUOTAS_FILE)]
