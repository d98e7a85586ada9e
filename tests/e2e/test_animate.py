"""`python -m bench animate` as a process: an unknown client is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.output.animate import choose_lanes
from bench.records.results import ResultsError, load_runs
from tests.helpers import assert_one_line_error


def test_unknown_client_is_one_line(two_clients_results: Path) -> None:
    with pytest.raises(ResultsError, match="choose --client from: thread_pool, naive_gather"):
        choose_lanes(load_runs(two_clients_results), ["nope"])
    result = subprocess.run(
        [sys.executable, "-m", "bench", "animate", str(two_clients_results), "--client", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert_one_line_error(result, "choose --client from")
