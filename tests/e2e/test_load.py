"""`python -m bench load` at a tiny size: each client's CPU beside its library's alone."""

from __future__ import annotations

import json
from pathlib import Path

from bench.experiments.load import overhead_clients
from tests.helpers import run_cli


def test_load_prints_each_clients_cpu_beside_its_bare_library(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = run_cli(
        "bench", "load", "--requests", "20", "--concurrency", "5", "--latency", "0",
        "--rounds", "1", "--pool", "4", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    thread_client, async_client = overhead_clients()
    lines = {name: line for line in result.stdout.splitlines() for name in [line.split()[0]]}
    assert "requests alone, 100 threads" not in result.stdout  # never more threads than requests
    assert "with requests alone, 20 threads" in lines[thread_client]
    assert "with aiohttp alone, 20 at once on a pool of 4:" in lines[async_client]
    for name in (thread_client, async_client):
        client = figures["client_cpu_seconds_per_request"][name]
        bare = figures["bare_cpu_seconds_per_request"][name]
        assert client > 0
        assert bare > 0
        assert abs(figures["client_over_bare"][name] - client / bare) < 1e-9
        assert f"{client / bare:.2f} ×" in lines[name]
    assert figures["overhead_rounds"] == 1
    assert figures["overhead_pool"] == 4
