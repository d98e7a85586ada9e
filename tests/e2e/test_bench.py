"""`python -m bench` end to end, at a small time scale, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.records.results import RUN_SCHEMA, SUMMARY_SCHEMA, THEORY_FILE, load_runs
from tests.helpers import assert_one_line_error, run_cli

# 0.1, as the clients' own end-to-end tests: naive_gather's retry waves of 8
# simultaneous sends must land inside one window to get exactly 20 × 429, and at
# 0.05 (50 ms windows) a wave spread by a busy machine, two test processes at
# once, crossed a window edge (one failure in four fresh-clone runs).
SCALE = "0.1"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One small bench of the write-up's three clients, shared by the tests that
    read its files: (the results folder, what it printed)."""
    out = tmp_path_factory.mktemp("bench")
    result = run_cli(
        "bench",
        "--time-scale",
        SCALE,
        "--theory-runs",
        "200",
        "--runs",
        "2",
        "--out",
        str(out),
        "--name",
        "b",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "latest").resolve() == (out / "b").resolve()
    return out / "b", result.stdout


def test_bench_writes_runs_summary_and_report(bench_run: tuple[Path, str]) -> None:
    run_dir, stdout = bench_run

    runs = load_runs(run_dir)  # every line validates as a typed record
    lines = (run_dir / "runs.jsonl").read_text().splitlines()
    assert all(json.loads(line)["schema"] == RUN_SCHEMA for line in lines)
    # Interleaved: A B C A B C.
    assert [r.client for r in runs] == ["thread_pool", "naive_gather", "token_bucket"] * 2
    for r in runs:
        assert r.ok
        assert len(r.server_log) == len(r.attempts)  # the server saw every send
        assert r.machine is not None  # stamped when the run was made
        assert r.overrides == ()
        assert r.config.time_scale == float(SCALE)
    # Run i of every client faced the same seed.
    assert {r.seed for r in runs if r.run == 1} == {1}
    naive = [r for r in runs if r.client == "naive_gather"]
    assert all(r.rejections == 20 for r in naive)
    # Theory was computed once, with the runs, and stored beside them.
    assert (run_dir / THEORY_FILE).is_file()

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema"] == SUMMARY_SCHEMA
    commands = [entry["command"] for entry in summary["results"]]
    assert commands == ["thread_pool", "naive_gather", "token_bucket"]
    for entry in summary["results"]:
        assert len(entry["times"]) == 2
        assert entry["min"] <= entry["mean"] <= entry["max"]
        for key in ("mean", "stddev", "median", "min", "max", "times", "rejections"):
            assert key in entry
    knobs = {entry["command"]: entry["knobs"] for entry in summary["results"]}
    assert knobs["thread_pool"]["workers"] == 2
    assert (knobs["token_bucket"]["rate"], knobs["token_bucket"]["capacity"]) == (2.0, 2)
    assert knobs["naive_gather"] == {
        "pool": 0,
        "attempts": 5,
        "retry": "exponential",
        "first_sleep": 3.0,
        "deadline": 600.0,
        "request_timeout": 60.0,
    }
    assert "Time (mean ± σ)" in stdout
    assert "times faster than" in stdout

    report = (run_dir / "report.md").read_text()
    pngs = sorted(run_dir.glob("*.png"))
    assert {p.name for p in pngs} >= {
        "timeline.png",
        "throughput.png",
        "rejections.png",
        "makespan.png",
        "windows.png",
        "in-flight.png",
        "latency.png",
    }
    for png in pngs:
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert png.stat().st_size > 5000
        assert png.name in report


def test_plot_redraws_from_files_alone(bench_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(bench_run[0], run_dir)
    first = json.loads((run_dir / "summary.json").read_text())
    assert "predicted_mean" in first["results"][0]
    for png in run_dir.glob("*.png"):
        png.unlink()
    (run_dir / "report.md").unlink()
    (run_dir / "summary.json").unlink()
    redrawn = run_cli("bench", "plot", str(run_dir))
    assert redrawn.returncode == 0, redrawn.stderr
    # The same figures, theory's included: they were stored, not recomputed.
    assert json.loads((run_dir / "summary.json").read_text()) == first
    assert (run_dir / "report.md").is_file()
    assert (run_dir / "timeline.png").is_file()


@pytest.mark.parametrize(
    ("signum", "jobs"), [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 3)]
)
def test_interrupt_keeps_finished_runs_and_stops_the_server(
    tmp_path: Path, signum: int, jobs: int
) -> None:
    """One run at a time or three side by side: Ctrl-C keeps every finished run (and
    no run cut short), and stops every server the bench started."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--jobs",
            str(jobs),
            "--time-scale",
            "0.1",
            "--theory-runs",
            "200",
            "--runs",
            "5",
            "--clients",
            "token_bucket,thread_pool",
            "--out",
            str(tmp_path),
            "--name",
            "i",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs_file = tmp_path / "i" / "runs.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if runs_file.exists() and len(runs_file.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the bench finished no run within 60 s")
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the bench should be running its own server"
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "interrupted" in err
    assert "Traceback" not in err
    runs = load_runs(tmp_path / "i")  # every line whole
    assert len(runs) >= 2
    assert all(r.ok for r in runs)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {alive}"
    assert (tmp_path / "i" / "summary.json").is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--runs", "0"], "--runs"),
        (["--theory-runs", "0"], "--theory-runs"),
        (["--clients", "thread_pool,warp_drive"], "warp_drive"),
        (["--clients", ""], "client"),
        (["-n", "0"], "n must be"),
        (["--time-scale", "-1"], "time scale"),
        (["--rate", "2/sec0nd"], "rate"),
        (["--latency", "5-2"], "inverted"),
        (["--retry", "forever"], "retry"),
        (["--url", "localhost:8000"], "http://"),
        (["--strategy", "leaky"], "strategy"),
        (["--workers", "0"], "workers"),
        (["--client-rate", "-2"], "rate"),
        (["--pool", "-1"], "pool"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    result = run_cli("bench", *args, "--out", str(tmp_path))
    assert_one_line_error(result, fragment)


def test_unwritable_out_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(run_cli("bench", "--out", str(blocker / "sub")), "--out")


def test_url_with_nothing_behind_it_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = run_cli("bench", "--url", f"http://127.0.0.1:{port}", "--out", str(tmp_path))
    assert_one_line_error(result, "no ratebench mock server")
    # Nothing was recorded, and nothing was half-written either.
    assert not list(tmp_path.glob("*/runs.jsonl"))


def test_plot_on_a_directory_that_is_not_a_results_directory(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("bench", "plot", str(tmp_path)), "runs.jsonl")
    assert_one_line_error(run_cli("bench", "plot", str(tmp_path / "missing")), "not a directory")
    (tmp_path / "runs.jsonl").write_text('{"schema": "ratebench.bench-run/1", "cli')
    assert_one_line_error(run_cli("bench", "plot", str(tmp_path)), "corrupted")
    (tmp_path / "runs.jsonl").write_text('{"schema": "ratebench.bench-run/9", "client": "x"}\n')
    assert_one_line_error(run_cli("bench", "plot", str(tmp_path)), "not a ratebench run record")


def test_help_explains(tmp_path: Path) -> None:
    result = run_cli("bench", "--help")
    assert result.returncode == 0
    for fragment in ("--time-scale", "--runs", "runs.jsonl", "summary.json", "plot"):
        assert fragment in result.stdout
    assert os.environ.get("CI") is None or result.stderr == ""


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0])
def test_a_signal_at_any_moment_leaves_no_server_and_no_traceback(
    tmp_path: Path, delay: float
) -> None:
    """SIGTERM while the server starts, while a run goes on, or as one ends; and a
    second one while the first unwinds (a launcher that forwards it, say)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--time-scale",
            "0.05",
            "--theory-runs",
            "200",
            "--runs",
            "3",
            "--clients",
            "token_bucket",
            "--out",
            str(tmp_path),
            "--name",
            "t",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    # Either it was stopped (143) or it had already finished (0); or, on a busy
    # machine, the signal came while the interpreter itself was starting, before
    # ratebench's first line could handle it, and nothing had been started yet.
    killed_before_start = proc.returncode == -signal.SIGTERM and not children
    assert proc.returncode in (0, 128 + signal.SIGTERM) or killed_before_start, err
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {alive}"
    runs_file = tmp_path / "t" / "runs.jsonl"
    if runs_file.exists() and runs_file.read_text():
        load_runs(tmp_path / "t")  # whole lines only


def test_every_client_follows_a_limit_other_than_the_write_ups(tmp_path: Path) -> None:
    """At 5/second the paced clients send 5 a window and the pool has 5 workers:
    the knobs followed the server's limit, judged from the server's own log."""
    from bench.records.windows import max_arrived_per_window

    scale = 0.1
    result = run_cli(
        "bench",
        "--clients",
        "sliding_window,token_bucket,thread_pool",
        "--rate",
        "5/second",
        "-n",
        "25",
        "--latency",
        "1-2",
        "--time-scale",
        str(scale),
        "--runs",
        "1",
        "--theory-runs",
        "20",
        "--out",
        str(tmp_path),
        "--name",
        "five",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    runs = {r.client: r for r in load_runs(tmp_path / "five")}
    sliding, bucket, pool = runs["sliding_window"], runs["token_bucket"], runs["thread_pool"]
    assert all(r.ok for r in runs.values())
    assert (bucket.config.rate, bucket.config.capacity, pool.config.workers) == (5.0, 5, 5)
    assert sliding.rejections == 0
    assert max_arrived_per_window(sliding.server_log, 1.0 * scale, shared=False) == 5
    # At the write-up's 2/s the bucket would need 12.5 s for its sends alone.
    assert bucket.seconds < 9.0
    # Two workers would take about 25 × 1.5 / 2 ≈ 19 s; five about 7.5 s.
    assert pool.seconds < 12.0
    assert "Knobs:             workers 5" in result.stdout
