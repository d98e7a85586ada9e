"""The CLIs as processes: Ctrl-C on the mock server and quiet surprises are one line."""

from __future__ import annotations

import sys
import time

import pytest

from tests.helpers import assert_one_line_error, run_cli


@pytest.mark.parametrize("delay", [0.5, 3.0])
def test_ctrl_c_on_the_mock_server_is_one_line(delay: float) -> None:
    """Ctrl-C while it imports and binds, or once uvicorn serves: never a traceback."""
    import signal
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bench", "--rate", "2/0second"], "window of 0"),
        (["bench", "--rate", "2 per 0 seconds"], "window of 0"),
        (["bench", "load", "--json", "/nonexistent-folder/x.json"], "does not exist"),
        (["bench", "load", "--rounds", "0"], "--rounds 0 must be between 1 and 100"),
        (["bench", "load", "--pool", "-1"], "--pool -1 must be >= 0"),
        (["bench", "-n", "1000000"], "more than 100000"),
        (["clients", "token_bucket", "-n", "1000000"], "more than 100000"),
    ],
)
def test_quiet_surprises_are_one_clear_line(args: list[str], fragment: str) -> None:

    assert_one_line_error(run_cli(*args), fragment)
