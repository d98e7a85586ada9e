"""Nothing counted that did not happen, nothing written where it was not asked.

Each test here failed before the fix it guards (issue 17's classes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import bench.running.runner
from bench.output.summary import build_summary, format_summary
from bench.records.results import (
    RUNS_FILE,
    Machine,
    ResultsError,
    RunLog,
    RunRecord,
    load_runs,
    new_run_dir,
)
from bench.running.plan import BenchPlan, Job, fault_reason
from bench.running.runner import run_one
from clients.infra.records import Attempt, ClientRun
from tests.helpers import hand_made_runs, write_results

MACHINE = Machine("3.11", "test", 2, "host")


# -- 1. one place decides whether a run completed ----------------------------------


def _run_with(
    monkeypatch: pytest.MonkeyPatch,
    attempts: tuple[Attempt, ...],
    *,
    elapsed: float,
    overrides: tuple[tuple[str, Any], ...] = (),
    client: str = "token_bucket",
) -> RunRecord:
    """run_one on a stand-in client that did `attempts` and returned after `elapsed` s."""

    def run_client(name: str, config: object) -> ClientRun:
        started = time.monotonic() - elapsed
        makespan = max((a.finished for a in attempts), default=0.0)
        return ClientRun(name, 4, started, attempts, makespan)

    monkeypatch.setattr(bench.running.runner, "reset_server", lambda *a, **k: None)
    monkeypatch.setattr(bench.running.runner, "fetch_log", lambda *a, **k: {"entries": []})
    plan = BenchPlan(
        clients=(client,),
        scenario=replace(BenchPlan().scenario, n=4, time_scale=0.1),
        overrides=overrides,
    )
    return run_one(
        plan, Job(0, 0, client, 0), "http://127.0.0.1:9", None, MACHINE, runner=run_client
    )


def ok(request: int, finished: float) -> Attempt:
    return Attempt(request, 0, 0.0, 0.0, finished, 200, "ok")


def test_a_run_the_deadline_cut_off_is_failed_not_a_makespan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Deadline 10 scenario s = 1 wall s at time scale 0.1; nothing came back.
    nothing = _run_with(monkeypatch, (), elapsed=1.2, overrides=(("deadline", 10.0),))
    assert nothing.status == "failed"
    assert "the deadline (10 s) cut it off: 4 of 4 requests unfinished" in (nothing.reason or "")
    # Two answered, two cancelled on the wire by the deadline: the deadline's
    # doing, not the server's.
    cut = (
        ok(0, 0.3),
        ok(1, 0.4),
        Attempt(2, 0, 0.5, 0.5, 1.0, None, "timeout"),
        Attempt(3, 0, 0.5, 0.5, 1.0, None, "timeout"),
    )
    half = _run_with(monkeypatch, cut, elapsed=1.01, overrides=(("deadline", 10.0),))
    assert half.status == "failed"
    assert "misbehaved" not in (half.reason or "")
    assert "2 of 4 requests unfinished, 2 attempts still waiting" in (half.reason or "")


def test_a_batch_given_up_after_its_retries_is_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    limited = (
        ok(0, 0.3),
        ok(1, 0.4),
        *(Attempt(i, 0, 0, 0, 0.1, 429, "rate_limited") for i in (2, 3)),
    )
    record = _run_with(monkeypatch, limited, elapsed=0.5, client="naive_gather")
    assert record.status == "failed"
    assert record.reason == (
        "2 of 4 requests never succeeded: the client gave up on them after its retries "
        "(last answers: 2 × 429)"
    )
    whole = _run_with(monkeypatch, tuple(ok(i, 0.1 * (i + 1)) for i in range(4)), elapsed=0.5)
    assert (whole.status, whole.reason) == ("ok", None)
    faulty = (*(ok(i, 0.1) for i in range(3)), Attempt(3, 0, 0, 0, 0.1, 500, "error"))
    spoiled = _run_with(monkeypatch, faulty, elapsed=0.5)
    assert (spoiled.reason or "").startswith("the server misbehaved: 1 × HTTP 500")


def test_clients_with_no_completed_runs_are_said_so_not_divided_by(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = [
        _run_with(monkeypatch, (), elapsed=1.2, overrides=(("deadline", 10.0),), client=c)
        for c in ("token_bucket", "thread_pool")
    ]
    text = format_summary(runs, None)  # was a ZeroDivisionError
    assert text.count("no completed runs (1 failed") == 2
    assert build_summary(runs, None)["no_completed_runs"] == ["token_bucket", "thread_pool"]


# -- 5, 3. paths confined; one folder, one scenario; latest only on a record -------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--name", "../../x"),
        ("--name", "a/b"),
        ("--name", "."),
        ("--name", "latest"),
        ("--out", ""),
    ],
)
def test_a_path_outside_out_is_refused_in_one_line(
    tmp_path: Path, bench_main: Callable[..., tuple[int, str]], flag: str, value: str
) -> None:
    out = tmp_path / "deep" / "out"
    args = ["--out", str(out), "--name", "ok", "--runs", "1"]
    args[args.index(flag) + 1] = value
    status, err = bench_main(*args)
    assert status == 2
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "deep" / "x").exists()
    assert not out.exists() or list(out.iterdir()) == []


def test_a_run_folder_is_created_exclusively_and_latest_waits_for_a_record(
    tmp_path: Path,
) -> None:
    first = new_run_dir(str(tmp_path), "same")
    with pytest.raises(ResultsError, match="already exists: pick another --name"):
        new_run_dir(str(tmp_path), "same")
    # Two benches in the same second: each its own folder.
    stamped = {new_run_dir(str(tmp_path)) for _ in range(3)}
    assert len(stamped) == 3
    assert all(d.is_dir() for d in stamped)
    assert not (tmp_path / "latest").exists(), "latest moved before any record"
    log = RunLog(first / RUNS_FILE, latest=True)
    log.append(hand_made_runs()[0])
    assert (tmp_path / "latest").resolve() == first.resolve()


# -- 6. every reader of records validates through the typed record -----------------


def _damaged(record: dict[str, Any], how: str) -> dict[str, Any]:
    data = json.loads(json.dumps(record))
    field, _, value = how.partition("=")
    if not value:
        del data[field]
    else:
        data[field] = json.loads(value)
    return data


@pytest.mark.parametrize(
    "how",
    [
        "attempts",
        'attempts="x"',
        "run=true",
        'run="3"',
        "seed=1.5",
        "client=5",
        'makespan="fast"',
        "status=3",
        'server_log={"a": 1}',
        'machine="x"',
        "overrides=5",
        "config=[1]",
        'sweep="x"',
        "reason=5",
    ],
)
def test_a_damaged_record_is_one_line_for_plot_and_replay(
    tmp_path: Path, bench_main: Callable[..., tuple[int, str]], how: str
) -> None:
    good = hand_made_runs()[0].to_dict()
    (tmp_path / RUNS_FILE).write_text(json.dumps(_damaged(good, how)) + "\n")
    for command in ("replay", "plot"):
        status, err = bench_main(command, str(tmp_path))
        assert status == 2, err
        assert err.startswith(f"error: {tmp_path / RUNS_FILE}:1 is not a valid run record"), err
        assert err.count("\n") == 1, err


def test_a_folder_plot_cannot_write_into_is_one_line(
    tmp_path: Path, bench_main: Callable[..., tuple[int, str]]
) -> None:
    write_results(tmp_path, hand_made_runs(), None)
    (tmp_path / "summary.json").unlink()
    (tmp_path / "summary.json").mkdir()  # unwritable even for root, unlike chmod
    status, err = bench_main("plot", str(tmp_path))
    assert status == 2
    assert err.startswith(f"error: {tmp_path / 'summary.json'}"), err
    assert err.count("\n") == 1, err
    assert len(load_runs(tmp_path)) == len(hand_made_runs())  # nothing recorded lost


def test_a_refused_request_is_told_apart_from_a_misbehaving_server() -> None:
    def attempt(request: int, status: int | None, outcome: str = "error") -> Attempt:
        return Attempt(request, 0, 0.0, 0.0, 0.1, status, outcome)  # type: ignore[arg-type]

    refused = (attempt(0, 401), attempt(1, 401), attempt(2, 200, "ok"))
    assert fault_reason(refused) == (
        "the server refused the client's requests: 2 × HTTP 401 "
        "(attempts that were neither ok nor 429)"
    )
    both = (attempt(0, 500), attempt(1, 413), attempt(2, None, "timeout"))
    reason = fault_reason(both) or ""
    assert reason.startswith("the server misbehaved: 1 × HTTP 500, 1 × timeout (")
    assert reason.endswith(
        "; the server refused the client's requests: 1 × HTTP 413 "
        "(attempts that were neither ok nor 429)"
    )
