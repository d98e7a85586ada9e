"""A signal to `python -m clients` mid-run: children stopped, what was done is kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import StartServer

N = 200  # 100 scenario seconds at 2/second: 5 s at time scale 0.05, cut at ~1.5 s


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent may not have reaped it yet).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _start(url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clients",
            "token_bucket",
            "--url",
            url,
            "-n",
            str(N),
            "--time-scale",
            "0.05",
            "--deadline",
            "1000",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_successes(proc: subprocess.Popen[str], count: int) -> None:
    """Read stdout until `count` requests have succeeded (the run is under way)."""
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 30
    while seen < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += "SUCCESS" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_every_client_process_and_keeps_the_json(
    start_server: StartServer, tmp_path: Path, signum: int
) -> None:
    server = start_server(time_scale=0.05)
    out = tmp_path / "run.json"
    proc = _start(server.chat_url, "--client-procs", "2", "--json", str(out))
    try:
        _wait_for_successes(proc, 4)
        kids = _children(proc.pid)
        assert len(kids) == 2
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert [k for k in kids if _alive(k)] == []
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: interrupted"), err
    record = json.loads(out.read_text())
    assert record["interrupted"] == signal.Signals(signum).name
    assert record["client"] == "token_bucket_x2"
    assert record["n"] == N
    done = [a for a in record["attempts"] if a["outcome"] == "ok"]
    assert 4 <= len(done) < N


def test_sigterm_prints_what_one_process_completed(start_server: StartServer) -> None:
    server = start_server(time_scale=0.05)
    proc = _start(server.chat_url)
    try:
        _wait_for_successes(proc, 4)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    lines = out.splitlines()
    record = json.loads("\n".join(lines[lines.index("{") :]))
    assert record["interrupted"] == "SIGTERM"
    assert record["n"] == N
    assert 4 <= sum(a["outcome"] == "ok" for a in record["attempts"]) < N
