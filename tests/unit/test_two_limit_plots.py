"""The two-limit plots, from a hand-made OpenAI-endpoint run: no server, no clients."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.endpoints.openai.plots import (
    allowed_by,
    completions,
    draw_limit_figures,
    limit_windows,
)
from tests.helpers import SCALE, two_windows


def test_each_window_counts_requests_refusals_and_tokens_from_the_log() -> None:
    windows = limit_windows(two_windows())
    assert [(w.admitted, w.refused, w.tokens) for w in windows] == [(2, 1, 90), (2, 0, 90)]
    assert abs(windows[0].opened) < 0.1
    assert abs(windows[1].opened - 60.0) < 0.1


def test_completions_are_the_servers_last_bytes_with_their_charges() -> None:
    done = completions(two_windows())
    assert [charge for _, charge in done] == [50, 40, 30, 60]
    assert [round(t, 6) for t, _ in done] == [2.0, 3.0, 63.0, 65.0]


def test_the_most_admitted_by_a_time_steps_at_every_window() -> None:
    assert allowed_by([0.0, 59.9, 60.0, 130.0], 20, 60.0) == [20, 20, 40, 60]


def test_the_two_limit_plots_are_drawn(tmp_path: Path) -> None:
    run = two_windows()
    old = replace(run, server_log=tuple(replace(e, tokens_charged=None) for e in run.server_log))
    for runs in ([run], [old]):  # an older log, without charges, still draws
        paths = draw_limit_figures(tmp_path, runs)
        assert [p.name for p in paths] == ["windows.png", "progress.png"]
        assert all(p.stat().st_size > 10_000 for p in paths)


def test_the_cookbooks_pauses_merge_when_a_429_comes_during_one() -> None:
    from bench.endpoints.openai.report import pauses

    run = two_windows()
    refused = [a for a in run.attempts if a.outcome == "rate_limited"]
    assert pauses(run, 15.0) == (1, 15.0)
    # Two more 429s: one 5 s after the first (lengthens its pause by 5 s), one
    # long after (a pause of its own).
    later = (
        replace(refused[0], finished=refused[0].finished + 5 * SCALE),
        replace(refused[0], finished=refused[0].finished + 40 * SCALE),
    )
    more = replace(run, attempts=run.attempts + later)
    count, paused = pauses(more, 15.0)
    assert count == 2
    assert abs(paused - 35.0) < 1e-6
