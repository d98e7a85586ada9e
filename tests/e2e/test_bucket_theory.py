"""A bench run against a real `--strategy token-bucket` server beside theory's
model of it: the bucket's bound beside the run, and the client's predicted 429s
and makespan against what the server's log says."""

from __future__ import annotations

from pathlib import Path

from bench.records.results import load_runs, load_theory
from tests.helpers import run_cli

SCALE = 0.1  # the bucket regains one unit in 50 ms of wall time


def test_naive_gather_on_the_bucket_is_what_its_model_predicts(tmp_path: Path) -> None:
    # Six at once on a bucket of 2 refilled at 2 a second, 1 s each: two go at 0,
    # the four refused retry at 3 s (the bucket full again: two go), the last two
    # at 9 s: 4 + 2 refusals, the last answer at 10 s.
    result = run_cli(
        "bench", "--strategy", "token-bucket", "--clients", "naive_gather", "-n", "6",
        "--latency", "1-1", "--time-scale", str(SCALE), "--runs", "1", "--theory-runs", "20",
        "--out", str(tmp_path), "--name", "b",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = load_runs(tmp_path / "b")
    theory = load_theory(tmp_path / "b")
    assert theory is not None
    expected = theory.for_client("naive_gather")
    assert expected is not None
    # The bucket's bound: sends at 0, 0, 0.5, 1, 1.5 and 2 s, answered 1 s later.
    assert expected.bound == 3.0
    assert expected.predicted_mean is not None
    assert abs(expected.predicted_mean - 10.0) < 0.01  # its sleeps wake 0.1 ms late
    assert expected.predicted_rejections == 6
    assert run.completed == 6
    assert run.rejections == 6  # from the server's log
    # Late by the retries' timers and a busy machine, never early.
    assert 10.0 - 0.05 < run.seconds < 10.0 + 2.0, run.seconds
    (replayed,) = theory.replays
    assert replayed.model is not None
    assert replayed.best_possible is not None
    assert abs(replayed.best_possible - 3.0) < 0.01
