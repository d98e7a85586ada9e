"""Clients that gave up on requests are shown with what they lost, never ranked
as fast (issue 14): checked on the committed requests-bind reference scenario."""

from __future__ import annotations

import json
from pathlib import Path

from bench.output.summary import build_summary, format_summary
from bench.records.results import load_runs
from bench.records.stats import gave_up, gave_up_stats
from tests.helpers import ROOT

REFERENCE = ROOT / "results" / "openai-rpm"


def test_lost_requests_are_counted_from_the_attempts_and_not_ranked() -> None:
    runs = load_runs(REFERENCE)
    lossy = gave_up_stats(runs)
    # The SDK's three attempts serve three windows of 20: the fourth window's 20 are lost.
    assert set(lossy) == {"openai_sdk", "openai_tenacity"}
    sdk = lossy["openai_sdk"]
    assert sdk.n == 80
    assert sdk.lost == (20, 20, 20)
    # Each lost request's last answer was a 429, and the batch ended long before
    # the 184 s the complete clients needed.
    assert all(r.incomplete == gave_up(r) for r in runs if r.client == "openai_sdk")
    assert sdk.mean_ended < 184
    assert all(gave_up(r) == 0 for r in runs if r.client == "budget_window")

    text = format_summary(runs, None)
    ranking = text[text.index("Summary\n") : text.index("Not ranked")]
    assert "budget_window ran" in ranking
    assert "openai_sdk" not in ranking
    assert "openai_tenacity" not in ranking
    assert "openai_sdk: 20.0 of 80 requests lost per run" in text

    lost = {g["command"]: g for g in build_summary(runs, None)["gave_up"]}
    assert set(lost) == {"openai_sdk", "openai_tenacity"}
    assert lost["openai_sdk"]["requests_lost"] == list(sdk.lost)
    assert lost["openai_sdk"]["ended"] == list(sdk.ended)


def test_a_moved_results_directory_reads_its_own_request_set(tmp_path: Path) -> None:
    # A run records where the bench wrote requests.jsonl, which a clone or a
    # moved directory does not have; it reads the copy beside it instead.
    runs = (REFERENCE / "runs.jsonl").read_text(encoding="utf-8")
    recorded = json.loads(runs.splitlines()[0])["scenario"]["requests"]
    gone = str(tmp_path / "gone" / "requests.jsonl")
    (tmp_path / "runs.jsonl").write_text(runs.replace(recorded, gone), encoding="utf-8")
    (tmp_path / "requests.jsonl").write_bytes((REFERENCE / "requests.jsonl").read_bytes())
    moved = load_runs(tmp_path)
    assert {r.scenario.requests for r in moved} == {str(tmp_path / "requests.jsonl")}
