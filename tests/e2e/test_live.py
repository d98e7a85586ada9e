"""The bench's live view: request states from the recorder, drawn by rich."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from bench.records.scenario import Scenario
from bench.running.live import LiveView
from bench.running.plan import BenchPlan
from bench.running.runner import run_bench


def test_live_view_shows_naive_gather_429s(tmp_path: Path) -> None:
    """naive_gather against a real server at a small time scale: the recorded
    frames show requests sleeping after a 429, and the 429s counted."""
    scenario = Scenario(n=10, time_scale=0.05)
    plan = BenchPlan(clients=("naive_gather",), runs=1, scenario=scenario)
    console = Console(record=True, force_terminal=True, width=100)
    view = LiveView(console, plan, refresh_per_second=40)
    with view.shown():
        records = run_bench(plan, tmp_path, view.on_start, view.on_done, observe=view.watch)
    text = console.export_text()
    (record,) = records
    assert record.ok
    assert record.rejections > 0
    sleeping = [int(m) for m in re.findall(r"sleeping before a retry\s+(\d+)", text)]
    assert max(sleeping) > 0, text[-2000:]
    counted = [int(m) for m in re.findall(r"429s received so far\s+(\d+)", text)]
    assert counted[-1] == record.client_rejections
    assert "naive_gather" in text
    assert "finished so far" in text


def test_live_view_meters_tokens_on_the_openai_endpoint(tmp_path: Path) -> None:
    """budget_window against the OpenAI-compatible endpoint at a small time scale:
    the frames meter sends against the RPM and tokens against the TPM, each send
    charged prompt + max_tokens (20 + 20), as the server charges it."""
    from bench.records import requests_file as rf

    path = tmp_path / "requests.jsonl"
    fixed = rf.parse_distribution("fixed:20", "--prompt-tokens")
    rf.write_requests(path, rf.make_requests(4, 0, fixed, fixed))
    scenario = Scenario(api="openai", rpm=10, tpm=1000, n=4, requests=str(path), time_scale=0.05)
    plan = BenchPlan(clients=("budget_window",), runs=1, scenario=scenario)
    console = Console(record=True, force_terminal=True, width=120)
    view = LiveView(console, plan, refresh_per_second=40)
    with view.shown():
        (record,) = run_bench(plan, tmp_path, view.on_start, view.on_done, observe=view.watch)
    text = console.export_text()
    assert record.ok, record
    assert "10 RPM" in text
    assert re.search(r"sends in this window .* 4/10", text), text[-2000:]
    tokens = [int(m) for m in re.findall(r"tokens in this window\D*(\d+)/1000", text)]
    assert max(tokens, default=0) == 160, text[-2000:]
