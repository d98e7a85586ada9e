"""The figures that read the same at any batch size, from hand-made runs."""

from __future__ import annotations

from pathlib import Path

from bench.endpoints.chat.plots import window_counts
from bench.output.plots import TIMELINE_ROWS, timeline_sample
from bench.output.scale_plots import draw_scale_plots, in_flight_steps
from tests.helpers import naive_gather, thread_pool


def test_a_timeline_samples_a_large_batch() -> None:
    assert timeline_sample(10) == list(range(10))
    assert timeline_sample(TIMELINE_ROWS) == list(range(TIMELINE_ROWS))
    big = timeline_sample(10_000)
    assert len(big) == 100
    assert big[0] == 0
    assert big[1] == 100
    assert big[-1] == 9_900


def test_in_flight_counts_attempts_on_the_wire() -> None:
    times, counts = in_flight_steps(thread_pool(0))
    # Two at t = 0, one replaced at 3 s and one at 4 s: never more than the pool's 2.
    assert max(counts) == 2
    assert counts[-1] == 0
    assert times == sorted(times)


def test_windows_come_from_the_servers_log() -> None:
    run = naive_gather(0)
    counts = window_counts(run)
    assert sum(accepted for _, accepted, _ in counts) == sum(
        1 for a in run.attempts if a.outcome == "ok"
    )
    assert sum(rejected for _, _, rejected in counts) == run.rejections
    # Times are scenario seconds from the batch's start, not raw clock readings.
    assert all(-0.5 < opened < 20 for opened, _, _ in counts)


def test_the_scale_plots_are_drawn(tmp_path: Path) -> None:
    paths = draw_scale_plots(tmp_path, [thread_pool(0), naive_gather(0)])
    assert [p.name for p in paths] == ["windows.png", "in-flight.png", "latency.png"]
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
        assert p.stat().st_size > 5_000
