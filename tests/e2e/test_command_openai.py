"""`python -m bench --api openai --command`: a program benched on the OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.cli import main
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "openai_batch.py"


def test_a_command_under_the_openai_api_ends_with_summary_report_and_plots(
    tmp_path: Path,
) -> None:
    """The README's example, 4 requests at time scale 0.05: theory has no model of a
    program (it looked the command's name up as a client, and the bench exited 2
    after its runs with no summary, report or plots)."""
    status = main(
        [
            "--api",
            "openai",
            "--command",
            f"sdk={sys.executable} {EXAMPLE}",
            "-n",
            "4",
            "--runs",
            "1",
            "--time-scale",
            "0.05",
            "--out",
            str(tmp_path),
            "--name",
            "sdk",
        ]
    )
    run_dir = tmp_path / "sdk"
    assert status == 0
    runs = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text().splitlines()]
    assert [r["client"] for r in runs] == ["sdk"]
    assert runs[0]["status"] == "ok", runs[0]["reason"]
    for name in ("summary.json", "report.md", "theory.json", "timeline.png", "windows.png"):
        assert (run_dir / name).is_file(), name
    (expected,) = json.loads((run_dir / "theory.json").read_text())["expected"]
    assert expected["client"] == "sdk"
    assert "shell command" in expected["no_model"]
    assert expected.get("predicted_mean") is None
    assert "sdk" in (run_dir / "report.md").read_text()
