"""`python -m bench animate RESULTS_DIR [--client NAME ...]`: runs racing, as a GIF.

It reads runs.jsonl and runs nothing. Each chosen client's representative
run (the one closest to its median) builds up on one shared time axis.
"""

from __future__ import annotations

from pathlib import Path

from bench.records.results import load_runs
from clients.config import ConfigError
from clients.infra.preflight import check_writable
from mock_server.vocabulary import OneLineParser, UsageError

# The defaults of bench.output.animate, repeated here so that `--help` and bad flags
# need no matplotlib; a test checks they agree.
FRAMES = 100
FPS = 10
DPI = 60

ANIMATION_FILE = "animation.gif"


def check_out(out: Path) -> None:
    """UsageError unless a GIF can be written at `out` (nothing is created)."""
    if out.is_dir():
        raise UsageError(
            f"--out {out} is a directory: give the GIF's file name, e.g. {out / ANIMATION_FILE}"
        )
    if out.suffix.lower() != ".gif":
        raise UsageError(f"--out {out}: the animation is a GIF, name it {out.stem}.gif")
    try:
        check_writable(out, "--out")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench animate",
        description="Write an animated GIF of the runs of a results directory building "
        "up in time, the clients side by side on one time axis.",
    )
    parser.add_argument("results_dir", type=Path, help="a directory written by python -m bench")
    parser.add_argument(
        "--client",
        action="append",
        metavar="NAME",
        help="a client to show (repeat for several; default: every client in the directory)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"the GIF to write (default: RESULTS_DIR/{ANIMATION_FILE})",
    )
    parser.add_argument(
        "--frames", type=int, default=FRAMES, help=f"frames of motion (default {FRAMES})"
    )
    parser.add_argument("--fps", type=int, default=FPS, help=f"frames per second (default {FPS})")
    parser.add_argument("--dpi", type=int, default=DPI, help=f"dots per inch (default {DPI})")
    args = parser.parse_args(argv)
    if args.frames < 2 or args.fps < 1 or args.dpi < 10:
        raise UsageError(
            "--frames must be at least 2, --fps at least 1 and --dpi at least 10; "
            f"got {args.frames}, {args.fps}, {args.dpi}"
        )
    runs = load_runs(args.results_dir)  # before matplotlib loads: bad input fails fast
    out = args.out if args.out is not None else args.results_dir / ANIMATION_FILE
    check_out(out)  # before every frame is drawn, not after
    from bench.output.animate import choose_lanes, write_gif

    lanes = choose_lanes(runs, args.client)
    path, frames = write_gif(lanes, out, frames=args.frames, fps=args.fps, dpi=args.dpi)
    print(f"Wrote {path}: {frames} frames, {len(lanes)} clients, {path.stat().st_size} bytes")
    return 0
