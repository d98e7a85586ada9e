"""`python -m bench animate`: a GIF from a hand-made results directory (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bench.commands.animate import main
from bench.output.animate import choose_lanes, frame_times, lane, window_meter, write_gif
from bench.records.results import load_runs
from tests.helpers import naive_gather


def test_frame_count_and_size(
    two_clients_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Frames of motion (the held last frame merges into one), width × dpi pixels wide."""
    out = two_clients_results / "race.gif"
    argv = [str(two_clients_results), "--client", "naive_gather", "--out", str(out)]
    assert main([*argv, "--frames", "4", "--dpi", "20"]) == 0
    # What the file holds, as the check below reads it back (not the 14 drawn).
    assert f"Wrote {out}: 4 frames, 1 clients" in capsys.readouterr().out
    with Image.open(out) as gif:
        # The ten held frames equal the last one, and Pillow stores equal frames once.
        assert gif.n_frames == 4
        assert gif.size[0] == 9 * 20
    lanes = choose_lanes(load_runs(two_clients_results), None)
    assert [la.client for la in lanes] == ["thread_pool", "naive_gather"]
    path, frames = write_gif(lanes, two_clients_results / "both.gif", frames=3, hold=0, dpi=20)
    with Image.open(path) as gif:
        assert gif.n_frames == frames == 3
        two_panels = gif.size[1]
    with Image.open(out) as gif:
        assert two_panels > gif.size[1]  # a panel per client, stacked


def test_meter_counts_the_servers_sends_per_window() -> None:
    """naive_gather sends all four at once: 4 sends against a limit of 2 in window 0."""
    la = lane(naive_gather(0))
    assert la.run.scenario.limit.count == 2
    assert window_meter(la, la.window_origin + 0.5) == (4, 0)
    assert frame_times(10.0, 3, 2) == [0.0, 5.0, 10.0, 10.0, 10.0]


def test_command_defaults_match_the_module() -> None:
    import bench.commands.animate
    import bench.output.animate

    for name in ("FRAMES", "FPS", "DPI"):
        assert getattr(bench.commands.animate, name) == getattr(bench.output.animate, name)
