"""`python -m clients`: bad input is one line and exit 2; a good run prints the write-up's log."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.helpers import StartServer, assert_one_line_error, run_cli


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/chat"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["carrier_pigeon"], ["unknown client", "thread_pool, naive_gather, token_bucket"]),
        ([], ["NAME"]),
        (["thread_pool", "-n", "0"], ["-n", "at least 1"]),
        (["thread_pool", "-n", "ten"], ["-n", "whole number"]),
        (["thread_pool", "--time-scale", "-1"], ["--time-scale", "above 0 and at most 100"]),
        (["thread_pool", "--time-scale", "nan"], ["--time-scale"]),
        (["thread_pool", "--retry", "sometimes"], ["--retry", "exponential"]),
        (["thread_pool", "--deadline", "0"], ["--deadline", "seconds"]),
        (["thread_pool", "--initial-tokens", "3"], ["--initial-tokens", "--capacity"]),
        (["thread_pool", "--bogus"], ["unrecognized", "--bogus"]),
        (["thread_pool", "--url", "ftp://x/chat"], ["--url", "http://"]),
        (["thread_pool", "--url", "http:///chat"], ["--url", "not a valid url"]),
        (["thread_pool", "--url", "http://127.0.0.1:99999/chat"], ["--url", "port"]),
        (["thread_pool", "--url", _refused_url()], ["nothing is listening", "mock_server"]),
        (["thread_pool", "--json", "/nonexistent-dir/run.json"], ["--json", "does not exist"]),
        (["thread_pool", "--json", "/"], ["--json", "directory"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run_cli("clients", *args, timeout=30), *fragments)


def test_help_says_the_defaults_reproduce_the_write_up() -> None:
    result = run_cli("clients", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for fragment in (
        "reproduce the write-up",
        "http://127.0.0.1:8000/chat",
        "python -m mock_server",
        "thread_pool, naive_gather, token_bucket",
    ):
        assert fragment in text


def test_a_run_prints_the_write_up_log_and_writes_json(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(seed=1, time_scale=0.05)
    out = tmp_path / "run.json"
    result = run_cli(
        "clients",
        "thread_pool",
        "--url",
        server.chat_url,
        "-n",
        "4",
        "--time-scale",
        "0.05",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "=== 0.00 Start All Tasks ==="
    assert lines[-1].startswith("=== ")
    assert lines[-1].endswith(" Finish All Tasks ===")
    assert sum("SUCCESS" in line and "receive hello world" in line for line in lines) == 4
    data = json.loads(out.read_text())
    assert (data["client"], data["n"], data["completed"]) == ("thread_pool", 4, 4)


def test_exit_1_when_some_requests_failed(start_server: StartServer) -> None:
    server = start_server(seed=1, time_scale=0.05)
    result = run_cli(
        "clients",
        "naive_gather",
        "--url",
        server.chat_url,
        "--retry",
        "none",
        "--time-scale",
        "0.05",
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.count("hit max retry limit") == 8
