"""`python -m bench concurrency`: one tiny level end to end, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import assert_one_line_error, run_cli


def test_one_level_measured_from_the_servers_log(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = run_cli(
        "bench",
        "concurrency",
        "--in-flight",
        "5",
        "--clients",
        "threads_bucket",
        "--json",
        str(out),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (point,) = json.loads(out.read_text())["points"]
    assert point["ok"], point["reason"]
    assert point["n"] == 10
    # 5 a second at 1 s each: about 5 on the wire, never the whole batch at once.
    assert 3 <= point["peak_in_flight"] <= 7
    assert point["peak_rss_mb"] > 5
    # Ten requests cost tens of ms of CPU, within the noise of the start-up it
    # subtracts on a busy machine (it came out at 0.0, clamped, under load): a
    # figure, never negative. The README's levels are where it means something.
    assert point["cpu_ms_per_request"] is not None
    assert point["cpu_ms_per_request"] >= 0
    assert 0 <= point["send_error_ms_p50"] < 100
    assert "| 5 | `threads_bucket` |" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--in-flight", "0"], "--in-flight"),
        (["--in-flight", "ten"], "--in-flight"),
        (["--clients", "warp"], "warp"),
        (["--json", "/nonexistent/dir/x.json"], "--json"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(run_cli("bench", "concurrency", *args), fragment)
