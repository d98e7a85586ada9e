"""Run and theory records: one module writes and reads them, old lines still read."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bench.records.results import (
    RUN_SCHEMA,
    RUN_SCHEMA_V1,
    SUMMARY_FILE,
    Expected,
    Replayed,
    ResultsError,
    RunRecord,
    SweepPoint,
    TheoryRecord,
    load_runs,
    load_theory,
    upgrade_theory,
)
from tests.helpers import ROOT, hand_made_runs, write_results

REFERENCE = ROOT / "results" / "reference"


def test_a_run_record_survives_json_unchanged() -> None:
    for record in hand_made_runs():
        data = json.loads(json.dumps(record.to_dict()))
        assert data["schema"] == RUN_SCHEMA
        assert RunRecord.from_dict(data) == record
    swept = replace(hand_made_runs()[0], sweep=SweepPoint("workers", 4.0), overrides=("workers",))
    assert RunRecord.from_dict(json.loads(json.dumps(swept.to_dict()))) == swept


def test_a_theory_record_survives_json_unchanged() -> None:
    theory = TheoryRecord(
        expected=(
            Expected("a", 8.29, 0.72, little_throughput=0.57, predicted_mean=9.1, schedule=9.11),
            Expected("b", 8.29, 0.72, sweep=SweepPoint("workers", 2.0), no_model="library code"),
        ),
        replays=(Replayed("a", 0, 8.7, 7.9), Replayed("b", 0, None, 7.9)),
        sim_runs=4000,
    )
    assert TheoryRecord.from_dict(json.loads(json.dumps(theory.to_dict()))) == theory


def test_records_refuse_what_cannot_be_true() -> None:
    run = hand_made_runs()[0]
    with pytest.raises(ValueError, match="reason"):
        replace(run, status="failed")
    with pytest.raises(ValueError, match="makespan"):
        replace(run, makespan=-1.0)


def test_an_old_schema_line_is_read_through_the_upgrade(tmp_path: Path) -> None:
    """The committed reference predates typed records: its lines still read, with
    the machine and theory its summary.json named."""
    lines = (REFERENCE / "runs.jsonl").read_text().splitlines()[:3]
    assert json.loads(lines[0])["schema"] == RUN_SCHEMA_V1
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(REFERENCE / SUMMARY_FILE, tmp_path / SUMMARY_FILE)
    old_summary = json.loads((REFERENCE / SUMMARY_FILE).read_text())
    runs = load_runs(tmp_path)
    first = json.loads(lines[0])
    assert runs[0].client == first["client"]
    assert runs[0].makespan == first["makespan"]
    assert runs[0].scenario.limit.count == 2
    assert str(runs[0].scenario.latency) == "2-5"
    assert runs[0].config.retry == "exponential"
    assert runs[0].machine is not None
    assert runs[0].machine.to_dict() == old_summary["machine"]
    theory = upgrade_theory(tmp_path)
    assert theory is not None
    assert (tmp_path / "theory.json").is_file()  # kept, since summary.json will be rewritten
    expected = theory.for_client(first["client"])
    assert expected is not None
    assert expected.predicted_mean == old_summary["results"][0]["predicted_mean"]
    assert load_theory(tmp_path) == theory


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"schema": "ratebench.bench-run/9", "client": "x"}', "not a ratebench run record"),
        ('{"schema": "' + RUN_SCHEMA + '", "client": "x"}', "not a valid run record"),
        ('["schema"]', "not a ratebench run record"),
        ('{"schema": "ratebench.bench-run/1", "client"', "not valid JSON"),
    ],
)
def test_a_line_that_is_not_a_run_is_one_clear_error(
    tmp_path: Path, line: str, fragment: str
) -> None:
    (tmp_path / "runs.jsonl").write_text(line + "\n")
    with pytest.raises(ResultsError, match=fragment) as caught:
        load_runs(tmp_path)
    assert "\n" not in str(caught.value)
    assert "runs.jsonl:1" in str(caught.value)


def test_plot_reads_files_and_never_runs_theory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench plot` re-draws from runs.jsonl and theory.json alone."""
    import bench.theory.models
    from bench.commands import plot

    theory = TheoryRecord(
        expected=tuple(
            Expected(c, 4.0, 0.5, predicted_mean=7.0, predicted_stddev=1.0)
            for c in ("thread_pool", "naive_gather", "token_bucket")
        ),
        replays=(Replayed("thread_pool", 0, 8.0, 6.0),),
    )
    run_dir = write_results(tmp_path, hand_made_runs(), theory)
    before = json.loads((run_dir / SUMMARY_FILE).read_text())

    def no_theory(*args: object, **kwargs: object) -> None:
        raise AssertionError("bench plot ran theory")

    for name in ("predict", "bound", "exact_makespan", "scenario_bound", "littles_law"):
        monkeypatch.setattr(bench.theory.models, name, no_theory)
    monkeypatch.setattr(bench.theory.models, "run_model", no_theory)
    assert plot.main([str(run_dir)]) == 0
    assert json.loads((run_dir / SUMMARY_FILE).read_text()) == before
    report = (run_dir / "report.md").read_text()
    assert "| thread_pool | 2 | 8.500 | 8.000 |" in report  # the stored replay, summed up
