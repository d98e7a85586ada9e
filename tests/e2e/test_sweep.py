"""`python -m bench sweep`: bad input as a process, and a short real sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.experiments.sweep import SWEEP_FILE, SWEEP_SUMMARY, load_sweep, summarise
from bench.records.results import THEORY_FILE, load_theory
from tests.helpers import assert_one_line_error, run_cli


def test_bad_input_on_the_command_line_exits_2() -> None:
    assert_one_line_error(
        run_cli("bench", "sweep", "workers=1,x", "--client", "thread_pool"), "not a whole number"
    )
    assert_one_line_error(run_cli("bench", "sweep", "workers=1,2", "--client", "nope"), "nope")
    assert_one_line_error(run_cli("bench", "sweep", "workers=1,2"), "--client")
    # A knob the client never reads would draw a flat line and call it a finding.
    assert_one_line_error(
        run_cli("bench", "sweep", "workers=1,2", "--client", "token_bucket"), "ignores workers"
    )


def test_a_short_workers_sweep_records_runs_theory_and_a_plot(tmp_path: Path) -> None:
    result = run_cli(
        "bench", "sweep", "workers=2,4", "--client", "thread_pool", "--runs", "1",
        "--theory-runs", "200", "--time-scale", "0.05",
        "--out", str(tmp_path), "--name", "s", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "s"
    records = load_sweep(run_dir)
    assert [r.sweep.value for r in records if r.sweep] == [2, 4]
    assert all(r.ok and r.completed == 10 for r in records)
    # The knob is recorded as an override of the client's default.
    assert [(r.overrides, r.config.workers) for r in records] == [
        (("workers",), 2),
        (("workers",), 4),
    ]
    # 2 workers never exceed the window; 4 sent at t = 0 overflow it at once.
    rejections = [r.rejections for r in records]
    assert rejections[0] == 0
    assert rejections[1] >= 2
    summary = json.loads((run_dir / SWEEP_SUMMARY).read_text())
    two, four = summary["values"]
    # Little's law: 10 / (2 / 3.5 s) = 17.5 s and 10 / (4 / 3.5 s) = 8.75 s.
    assert two["little_makespan"] == pytest.approx(17.5)
    assert four["little_makespan"] == pytest.approx(8.75)
    assert two["predicted_mean"] == pytest.approx(18.4, abs=0.3)
    assert four["predicted_rejections"] > 2
    assert (run_dir / "sweep-workers.png").stat().st_size > 10_000
    assert (run_dir / SWEEP_FILE).is_file()
    assert (run_dir / THEORY_FILE).is_file()
    # Re-drawn from the files alone, the figures are the same, theory's included.
    assert summarise(records, load_theory(run_dir)).to_dict()["values"] == summary["values"]
    replot = run_cli("bench", "sweep", "--replot", str(run_dir))
    assert replot.returncode == 0, replot.stderr
    assert "workers" in replot.stdout
    assert json.loads((run_dir / SWEEP_SUMMARY).read_text()) == summary
