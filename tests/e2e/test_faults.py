"""A misbehaving server: every bench ends in bounded time, says why, keeps what finished."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.records.results import load_runs
from tests.helpers import run_cli


def test_500s_mark_runs_failed_and_keep_them_out_of_the_figures(tmp_path: Path) -> None:
    result = run_cli(
        "bench",
        "--clients",
        "token_bucket",
        "--theory-runs",
        "200",
        "--runs",
        "3",
        "--time-scale",
        "0.05",
        "--error-rate",
        "0.5",
        "--seed",
        "1",
        "--out",
        str(tmp_path),
        "--name",
        "e",
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    runs = load_runs(tmp_path / "e")
    assert len(runs) == 3  # every run kept
    failed = [r for r in runs if not r.ok]
    assert failed, "half the answers were 500s: some run must be marked failed"
    assert all("HTTP 500" in (r.reason or "") for r in failed)
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert len(summary["failed_runs"]) == len(failed)
    measured = sum(len(entry["times"]) for entry in summary["results"])
    assert measured == 3 - len(failed)
    assert "failed" in result.stdout + result.stderr


def test_a_stalled_server_ends_at_the_deadline(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cli(
        "bench",
        "--clients",
        "token_bucket",
        "--theory-runs",
        "200",
        "--runs",
        "1",
        "--time-scale",
        "0.05",
        "--stall-after",
        "2",
        "--deadline",
        "40",
        "--out",
        str(tmp_path),
        "--name",
        "s",
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 60
    [run] = load_runs(tmp_path / "s")
    assert run.status == "failed"
    assert "the deadline (40 s) cut it off: 8 of 10 requests unfinished" in (run.reason or "")
    assert run.completed == 2


def test_server_death_mid_run_stops_the_bench_with_a_clear_message(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--clients",
            "token_bucket",
            "--theory-runs",
            "200",
            "--runs",
            "20",
            "--time-scale",
            "0.05",
            "--out",
            str(tmp_path),
            "--name",
            "d",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs_file = tmp_path / "d" / "runs.jsonl"
    deadline = time.monotonic() + 60
    while not (runs_file.exists() and runs_file.read_text().count("\n") >= 1):
        assert time.monotonic() < deadline, "no run finished within 60 s"
        time.sleep(0.02)
    [server] = psutil.Process(proc.pid).children(recursive=True)
    server.kill()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "died" in err
    assert "Traceback" not in err
    runs = load_runs(tmp_path / "d")
    assert runs[0].status == "ok"
    # The kill lands during a run (which then fails, saying so) or, rarely, in
    # the instant between a run's record and the bench's check of the server.
    if runs[-1].status == "failed":
        assert "died" in (runs[-1].reason or "")
    assert all(r.status == "ok" for r in runs[:-1])


def test_garbage_bodies_mark_runs_failed(tmp_path: Path) -> None:
    result = run_cli(
        "bench",
        "--clients",
        "thread_pool",
        "--theory-runs",
        "200",
        "--runs",
        "1",
        "--time-scale",
        "0.05",
        "--error-rate",
        "1",
        "--error-kind",
        "garbage",
        "--retry",
        "none",
        "--out",
        str(tmp_path),
        "--name",
        "g",
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    [run] = load_runs(tmp_path / "g")
    assert run.status == "failed"
    assert "body that is not the answer" in (run.reason or "")
    assert run.completed == 0
