"""A limiter's windows as bars: what it admitted and refused in each, against its limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes

from bench.drawing.style import REJECTED_COLOUR


def draw_window_bars(
    ax: Axes,
    windows: Sequence[tuple[float, int, int]],
    width: float,
    colour: str,
    limit: int,
    *,
    labels: tuple[str, str, str],
    headroom: float,
) -> None:
    """Each window's (opened at, accepted, rejected) as a bar, the rejected stacked
    hatched on the accepted, under a dashed line at the limit; `labels` name the
    three, `headroom` is the y range over the tallest of bar and limit."""
    if windows:
        starts = [w[0] for w in windows]
        accepted = [w[1] for w in windows]
        # White edges: one window's bar never runs into the next one's.
        edges: dict[str, Any] = {"edgecolor": "white", "linewidth": 0.8}
        ax.bar(starts, accepted, width=width, align="edge", color=colour, label=labels[0], **edges)
        ax.bar(
            starts,
            [w[2] for w in windows],
            bottom=accepted,
            width=width,
            align="edge",
            color=REJECTED_COLOUR,
            hatch="xx",
            label=labels[1],
            **edges,
        )
    ax.axhline(limit, color="black", linestyle="--", linewidth=1.0, label=labels[2])
    most = max((w[1] + w[2] for w in windows), default=0)
    ax.set_ylim(0, max(limit, most) * headroom)
