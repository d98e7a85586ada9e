"""An animated GIF of runs building up in time, several clients on one time axis.

One panel per client (its representative run, as in `timeline.png`): a row
per request, each attempt's bar growing from its send while it is in flight
and taking its outcome's colour when it ends, a cross at each 429, the
limit's windows drawn as faint bands, and a meter of the sends in the
current window against the limit. Every panel shares the clock, so the
clients race. Times are scenario seconds, as in every plot.

Frames are drawn by updating artists made once (bar widths, marker
offsets, texts) on a figure laid out once; Pillow writes the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.drawing.style import client_style
from bench.output.plots import OUTCOME_COLOURS, WAIT_COLOUR, timeline_sample
from bench.records.results import ResultsError, RunRecord
from bench.records.stats import by_client, ok_runs, representative_run

#: An attempt on the wire: neither answered nor rejected yet.
IN_FLIGHT_COLOUR = "#fdd49e"
FPS = 10
FRAMES = 100
HOLD_FRAMES = 10  # the last frame, held, so the finish can be read before the loop
DPI = 60


@dataclass(frozen=True, slots=True)
class Segment:
    """One attempt of the animation, in scenario seconds from the batch's start.

    `slept_from`: where the retry sleep before it began (the previous
    attempt's end), or None for a first attempt.
    """

    row: int
    queued: float
    sent: float
    finished: float
    outcome: str
    slept_from: float | None = None


@dataclass(frozen=True, slots=True)
class Lane:
    """What one client's panel shows: its run, its attempts and the server's arrivals."""

    client: str
    run: RunRecord
    rows: int
    segments: tuple[Segment, ...]
    arrivals: tuple[float, ...]  # every request the server saw, scenario seconds
    window_origin: float  # where the limit's first window began (first arrival)


def lane(run: RunRecord) -> Lane:
    """The panel of `run`: at most `TIMELINE_ROWS` requests, as the timeline samples them."""
    shown = timeline_sample(run.n)
    row_of = {request: row for row, request in enumerate(shown)}
    seconds = run.scenario.seconds
    segments: list[Segment] = []
    for a in sorted(run.attempts, key=lambda a: (a.request, a.attempt)):
        if a.request not in row_of:
            continue
        before = segments[-1] if segments and segments[-1].row == row_of[a.request] else None
        segments.append(
            Segment(
                row_of[a.request],
                seconds(a.queued),
                seconds(a.sent),
                seconds(a.finished),
                a.outcome,
                None if before is None else before.finished,
            )
        )
    arrivals = tuple(sorted(seconds(e.arrival - run.started) for e in run.server_log))
    # The server's fixed window opens at the first request it sees after a
    # reset; for other strategies the bands are still the limit's period.
    origin = arrivals[0] if arrivals else 0.0
    return Lane(run.client, run, len(shown), tuple(segments), arrivals, origin)


def choose_lanes(runs: Sequence[RunRecord], clients: Sequence[str] | None) -> list[Lane]:
    """Each chosen client's representative run, in the order given (or of the file).

    ResultsError naming the clients the directory holds for a name it does not.
    """
    groups = by_client(ok_runs(runs))
    if not groups:
        raise ResultsError("no finished run to animate: every run in the directory failed")
    names = list(clients) if clients else list(groups)
    missing = [c for c in names if c not in groups]
    if missing:
        raise ResultsError(
            f"no finished run of {', '.join(missing)} in these results; "
            f"choose --client from: {', '.join(groups)}"
        )
    return [lane(representative_run(groups[c])) for c in names]


def window_meter(lane_: Lane, t: float) -> tuple[int, int]:
    """(sends the server saw in the window holding `t`, the window's index)."""
    limit = lane_.run.scenario.limit
    if t < lane_.window_origin:
        return 0, 0
    index = int((t - lane_.window_origin) // limit.window)
    start = lane_.window_origin + index * limit.window
    return sum(1 for a in lane_.arrivals if start <= a <= t), index


def frame_times(end: float, frames: int, hold: int) -> list[float]:
    """`frames` evenly spaced clock readings from 0 to `end`, then `hold` more of `end`."""
    if frames < 2:
        raise ResultsError(f"--frames must be at least 2, got {frames}")
    return [end * i / (frames - 1) for i in range(frames)] + [end] * hold


def build(
    lanes: Sequence[Lane], frames: int = FRAMES, hold: int = HOLD_FRAMES, width: float = 9.0
) -> tuple[Any, Callable[[int], list[Any]], list[float]]:
    """(figure, update, frame times): `update(i)` sets the figure to frame i."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    end = max(max(s.finished for s in la.segments) if la.segments else 0.0 for la in lanes)
    end = max(end, 1e-6)
    times = frame_times(end, frames, hold)
    heights = [max(1.4, 0.16 * la.rows + 0.8) for la in lanes]
    fig = Figure(figsize=(width, sum(heights) + 1.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(lanes), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    updaters = []
    for index, (ax, la) in enumerate(zip(axes, lanes, strict=True)):
        limit = la.run.scenario.limit
        # The limit's windows as alternating bands: a reader counts sends per band.
        k, start = 0, la.window_origin
        while start < end * 1.02:
            if k % 2 == 0:
                ax.axvspan(start, start + limit.window, color="#f0f0f0", zorder=0, lw=0)
            k, start = k + 1, start + limit.window
        # A retry sleep: a thin grey line from the 429 to the attempt becoming ready.
        sleeps = ax.barh(
            [s.row for s in la.segments],
            [0.0] * len(la.segments),
            left=[s.queued if s.slept_from is None else s.slept_from for s in la.segments],
            height=0.12,
            color="#555555",
            linewidth=0,
        )
        waits = ax.barh(
            [s.row for s in la.segments],
            [0.0] * len(la.segments),
            left=[s.queued for s in la.segments],
            height=0.6,
            color=WAIT_COLOUR,
            hatch="///",
            edgecolor="#3182bd",
            linewidth=0.3,
        )
        bars = ax.barh(
            [s.row for s in la.segments],
            [0.0] * len(la.segments),
            left=[s.sent for s in la.segments],
            height=0.6,
            color=IN_FLIGHT_COLOUR,
            edgecolor="black",
            linewidth=0.4,
        )
        crosses = ax.scatter([], [], marker="x", color="#d62728", s=40, linewidths=2, zorder=4)
        cursor = ax.axvline(0.0, color="black", linewidth=1.0)
        meter = ax.text(
            1.0,
            1.02,
            "",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            family="monospace",
        )
        style = client_style(index)
        ax.set_title(
            f"{la.client}  (run {la.run.run + 1}, limit {limit})",
            loc="left",
            fontsize=10,
            color=style.colour,
            fontweight="bold",
        )
        ax.set_ylim(la.rows - 0.5, -0.5)
        ax.set_yticks([])
        ax.set_ylabel("requests", fontsize=8)
        updaters.append((la, sleeps, waits, bars, crosses, cursor, meter))
    axes[-1].set_xlim(0, end * 1.02)
    axes[-1].set_xlabel("time since the batch started (scenario seconds)")
    fig.legend(
        handles=[
            Line2D([], [], color="#555555", linewidth=2, label="retry sleep"),
            Patch(facecolor=WAIT_COLOUR, edgecolor="#3182bd", hatch="///", label="waiting"),
            Patch(facecolor=IN_FLIGHT_COLOUR, edgecolor="black", label="in flight"),
            Patch(facecolor=OUTCOME_COLOURS["ok"], edgecolor="black", label="200"),
            Patch(facecolor=OUTCOME_COLOURS["rate_limited"], edgecolor="black", label="429"),
            Line2D([], [], color="#d62728", marker="x", linestyle="", mew=2, label="429 received"),
            Patch(facecolor="#f0f0f0", edgecolor="#cccccc", label="the limit's windows"),
        ],
        loc="outside lower center",
        ncol=7,
        fontsize=8,
        frameon=False,
    )
    title = fig.suptitle("")

    def update(frame: int) -> list[Any]:
        t = times[frame]
        title.set_text(f"t = {t:5.1f} s (scenario seconds)")
        changed: list[Any] = [title]
        for la, sleeps, waits, bars, crosses, cursor, meter in updaters:
            rejected = []
            done = 0
            for seg, sleep, wait, bar in zip(la.segments, sleeps, waits, bars, strict=True):
                if seg.slept_from is not None:
                    sleep.set_width(max(0.0, min(t, seg.queued) - seg.slept_from))
                    sleep.set_visible(t > seg.slept_from)
                wait.set_width(max(0.0, min(t, seg.sent) - seg.queued))
                bar.set_width(max(0.0, min(t, seg.finished) - seg.sent))
                # A zero-width bar still draws its edge: hide what has not begun.
                wait.set_visible(t > seg.queued and seg.sent > seg.queued)
                bar.set_visible(t >= seg.sent)
                ended = t >= seg.finished
                bar.set_facecolor(
                    OUTCOME_COLOURS.get(seg.outcome, "#7f7f7f") if ended else IN_FLIGHT_COLOUR
                )
                if ended and seg.outcome == "rate_limited":
                    rejected.append((seg.sent, seg.row))
                done += ended and seg.outcome == "ok"
            crosses.set_offsets(rejected if rejected else [[float("nan"), float("nan")]])
            cursor.set_xdata([t, t])
            sends, _ = window_meter(la, t)
            limit = la.run.scenario.limit
            meter.set_text(
                f"window {'█' * min(sends, 20)}{'·' * max(0, limit.count - sends)} "
                f"{sends}/{limit.count}  ·  {len(rejected)} × 429  ·  "
                f"{done}/{la.rows} done"
            )
            meter.set_color("#d62728" if sends > limit.count else "black")
            changed += [*sleeps, *waits, *bars, crosses, cursor, meter]
        return changed

    # Lay the figure out once, at its final frame (the widest texts), then
    # freeze it: constrained layout on every frame would cost most of the time.
    update(len(times) - 1)
    fig.canvas.draw()
    fig.set_layout_engine("none")
    return fig, update, times


def write_gif(
    lanes: Sequence[Lane],
    path: Path,
    frames: int = FRAMES,
    hold: int = HOLD_FRAMES,
    fps: int = FPS,
    dpi: int = DPI,
    width: float = 9.0,
) -> tuple[Path, int]:
    """Write the animation of `lanes` to `path` (a GIF); returns (path, frames the GIF holds).

    Each frame is drawn once on the Agg canvas and handed to Pillow as pixels:
    matplotlib's own writers draw every frame two or three times over.
    """
    from PIL import Image

    fig, update, times = build(lanes, frames, hold, width)
    fig.set_dpi(dpi)
    images = []
    for frame in range(len(times)):
        update(frame)
        fig.canvas.draw()
        rgba = fig.canvas.buffer_rgba()
        size = (int(rgba.shape[1]), int(rgba.shape[0]))
        # An adaptive palette per frame keeps the file small (few colours here).
        image = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).convert("RGB")
        images.append(image.quantize(colors=64))
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=True,
        format="GIF",  # whatever the name says
    )
    # Pillow merges identical neighbours (the held last frames) into one longer
    # frame: count what the file holds, not what was drawn.
    with Image.open(path) as written:
        return path, int(getattr(written, "n_frames", 1))
