"""How every figure is drawn: one style per client, and how a figure is saved.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never
through pyplot, so drawing leaves no global figure state behind.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

# Set before anything can pull in pyplot: the bench runs headless (CI, ssh).
matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110
#: Red means "the server said no" in every figure, and nothing else is red.
REJECTED_COLOUR = "#d62728"


#: Ten colours (matplotlib's tab10, red left out: red means a 429 here) and,
#: apart from colour, a marker and a line style per client, so that ten
#: clients stay apart in grey-scale print and for colour-blind readers.
CLIENT_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
)
CLIENT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
CLIENT_LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
CLIENT_HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--", "||", "**")


@dataclass(frozen=True, slots=True)
class ClientStyle:
    """How one client is drawn: no two of the first ten share colour, marker or hatch."""

    colour: str
    marker: str
    linestyle: Any
    hatch: str


def client_style(index: int) -> ClientStyle:
    """A stable style per client position; the line style cycles on its own length
    (5, prime to 10), so that even past ten clients no two neighbours look alike."""
    return ClientStyle(
        colour=CLIENT_COLOURS[index % len(CLIENT_COLOURS)],
        marker=CLIENT_MARKERS[index % len(CLIENT_MARKERS)],
        linestyle=CLIENT_LINESTYLES[index % len(CLIENT_LINESTYLES)],
        hatch=CLIENT_HATCHES[index % len(CLIENT_HATCHES)],
    )


def client_colour(index: int) -> str:
    """A stable colour per client position (ten before any repeats)."""
    return client_style(index).colour


def save_figure(fig: Figure, path: Path) -> Path:
    """Draw into a hidden file beside `path`, then rename: a Ctrl-C while drawing
    leaves the plot complete or absent, never a truncated PNG."""
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=DPI, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def empty_figure(path: Path, title: str, message: str) -> Path:
    """A figure that says why it is empty, rather than a missing file."""
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return save_figure(fig, path)


def client_timeline_file(client: str) -> str:
    """`timeline-<client>.png`, with anything but letters, digits, - and _ replaced."""
    return "timeline-" + re.sub(r"[^A-Za-z0-9_-]", "_", client) + ".png"
