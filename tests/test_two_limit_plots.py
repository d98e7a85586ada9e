"""The two-limit plots, from a hand-made OpenAI-endpoint run: no server, no clients."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.endpoints.openai.plots import (
    allowed_by,
    completions,
    draw_two_limit_plots,
    limit_windows,
)
from bench.endpoints.registry import client_config
from bench.records.results import RunRecord, ServerEntry
from bench.records.scenario import Scenario
from clients.infra.records import Attempt
from tests.test_plots_report import MACHINE, SCALE, STARTED, attempt

SCENARIO = Scenario(n=4, time_scale=SCALE, api="openai", rpm=2, tpm=100)
CONFIG = client_config(SCENARIO, "http://127.0.0.1:8000/v1/chat/completions")
WALL = 1.7e9  # time.time() at the batch's start
WINDOW = 60 * SCALE  # a minute, in wall seconds


def entry(seq: int, a: Attempt, charge: int, opened: float | None) -> ServerEntry:
    """What the endpoint logs: an admitted request stamped with the end of the window
    that counted it (`opened` + a minute, wall seconds from the start); a refusal
    counted in none."""
    arrival = STARTED + a.sent + 0.001
    ok = a.outcome == "ok"
    return ServerEntry(
        seq=seq,
        arrival=arrival,
        accepted=ok,
        status=a.status,
        decided=arrival,
        wall=WALL + a.sent + 0.001,
        window_reset=None if opened is None else WALL + opened + WINDOW,
        left=STARTED + a.finished if ok else None,
        tokens_charged=charge if ok else 0,
    )


def two_windows() -> RunRecord:
    """Two admitted and one refused in the first minute; the refused one and the
    last request in the second."""
    plan = [
        (attempt(0, 0, 0, 0.0, 3.0), 40, 0.0),
        (attempt(1, 0, 0, 0.0, 2.0), 50, 0.0),
        (attempt(2, 0, 0, 0.0, 0.1, "rate_limited"), 30, None),
        (attempt(2, 1, 0, 60.0, 63.0), 30, 60.0 * SCALE),
        (attempt(3, 0, 0, 61.0, 65.0), 60, 60.0 * SCALE),
    ]
    log = tuple(
        entry(i, a, charge, None if at is None else at + 0.001)
        for i, (a, charge, at) in enumerate(plan)
    )
    attempts = tuple(a for a, _, _ in plan)
    return RunRecord(
        client="budget_window",
        run=0,
        seed=0,
        scenario=SCENARIO,
        config=CONFIG,
        overrides=(),
        machine=MACHINE,
        wall_start=WALL,
        started=STARTED,
        makespan=max(a.finished for a in attempts),
        attempts=attempts,
        server_log=log,
    )


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
        paths = draw_two_limit_plots(tmp_path, runs)
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
