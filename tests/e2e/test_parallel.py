"""Runs side by side measure what runs one after another measure: the same seeds with
`--jobs 1` and `--jobs 3`, paired by `python -m bench diff`'s pairing."""

from __future__ import annotations

from pathlib import Path

from bench.output.run_diff import pair_runs
from bench.records.results import load_runs
from tests.helpers import run_cli

#: Wall seconds two measurements of one run may differ by on a busy 2-core machine:
#: each run's own timing noise (its replay error) is tens of milliseconds.
WALL_TOLERANCE = 0.15
SCALE = 0.1


def bench(out: Path, name: str, jobs: int) -> Path:
    result = run_cli(
        "bench",
        *("--time-scale", str(SCALE), "--runs", "2", "-n", "6", "--theory-runs", "200"),
        *("--jobs", str(jobs), "--out", str(out), "--name", name),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out / name


def test_side_by_side_runs_match_one_at_a_time(tmp_path: Path) -> None:
    alone = load_runs(bench(tmp_path, "alone", 1))
    side = bench(tmp_path, "side", 3)
    pairs = pair_runs(alone, load_runs(side))
    assert len(pairs) == len(alone) == 6
    for pair in pairs:
        if pair.client == "token_bucket" and pair.rejections_apart:
            # Its sends sit at window edges by design: a late timer on a busy machine
            # meets a 429 and a retry's wait, one at a time or side by side alike.
            continue
        assert pair.rejections_apart == 0, pair
        assert pair.seconds_apart * SCALE <= WALL_TOLERANCE, pair
    assert sum(1 for p in pairs if p.client != "token_bucket") == 4
    diff = run_cli("bench", "diff", str(tmp_path / "alone"), str(side))
    assert diff.returncode == 0, diff.stderr
    assert "6 runs paired by client and seed" in diff.stdout


def test_jobs_with_one_external_server_is_refused(tmp_path: Path) -> None:
    result = run_cli("bench", "--jobs", "2", "--url", "http://127.0.0.1:9", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "--url" in result.stderr
    assert "--jobs" in result.stderr
    assert "Traceback" not in result.stderr
