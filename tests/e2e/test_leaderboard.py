"""`python -m bench leaderboard` end to end on its smallest scenario, at a compressed
time scale: the scenario's folder, the table drawn from it, and a library that
cannot run at that scale said in words rather than ending the bench."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import assert_one_line_error, run_cli


def test_the_leaderboard_runs_a_scenario_and_draws_one_table(tmp_path: Path) -> None:
    clients = "sliding_window,lib_pyrate_chat,lib_limits_chat"
    result = run_cli(
        "bench", "leaderboard", "--scenario", "chat-writeup", "--runs", "1",
        "--time-scale", "0.1", "--clients", clients, "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Progress while it runs, one line per run.
    assert "leaderboard chat-writeup: 3 clients × 1 runs" in result.stderr
    assert "lib_pyrate_chat" in result.stderr
    folder = tmp_path / "chat-writeup"
    assert (folder / "runs.jsonl").is_file()
    assert (folder / "theory.json").is_file()
    table = json.loads((tmp_path / "leaderboard.json").read_text())
    [board] = table["boards"]
    cells = {c["client"]: c for c in board["cells"]}
    assert set(cells) == set(clients.split(","))
    mine, library = cells["sliding_window"], cells["lib_pyrate_chat"]
    for c in (mine, library):
        assert c["lost"] == 0
        assert c["over_bound"] >= 0.95
        assert c["cpu_ms_per_request"] > 0
        assert c["peak_rss_mb"] > 10
    # Theory has a model of ours, none of a library's, and says why.
    assert mine["predicted"] is not None
    assert library["predicted"] is None
    assert library["no_model"]
    assert "try_acquire_async" in library["user_lines"]
    # limits counts whole seconds: a 0.1 s window is said, not run.
    assert "could not run: " in cells["lib_limits_chat"]["words"]
    md = (tmp_path / "leaderboard.md").read_text()
    assert "| `lib_pyrate_chat` | pyrate-limiter |" in md
    assert "```python" in md
    assert "not full scale" in md
    # The table alone is redrawn from the folders, running nothing.
    again = run_cli("bench", "leaderboard", "--table-only", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "leaderboard.md").read_text() == md


def test_an_unknown_scenario_is_one_line() -> None:
    result = run_cli("bench", "leaderboard", "--scenario", "nope")
    assert_one_line_error(result, "no leaderboard scenario 'nope'", "chat-writeup")
