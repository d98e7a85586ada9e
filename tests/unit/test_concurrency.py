"""`python -m bench concurrency`'s parts: the time scale per level, a failed row."""

from __future__ import annotations

from bench.experiments.concurrency import WALL_RATE, Point, format_table, time_scale_for


def test_time_stretches_so_the_wall_rate_stays_put() -> None:
    assert time_scale_for(10) == 1.0
    assert time_scale_for(5000) == 5000 / WALL_RATE


def test_a_failed_point_is_a_row_that_says_why() -> None:
    table = format_table([Point("threads_bucket", 5000, 10000, 25.0, False, "exit 1: boom")])
    assert "failed: exit 1: boom" in table
