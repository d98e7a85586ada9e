"""Run the mock server as a real process: for tests, the bench and the CLI.

The server is a child process in its own session, so that a Ctrl-C in the
terminal reaches only the parent, which then stops the server in order; on
Linux the child is also asked to die with its parent, so that not even a
SIGKILL of the parent leaves a server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from mock_server.cli import READY_PREFIX


class ServerError(RuntimeError):
    """The mock server would not start, or stopped answering."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class MockServer:
    """`with MockServer(time_scale=0.1) as server:` starts `python -m mock_server`
    on a free port of 127.0.0.1, waits until it answers, and stops it on exit,
    whatever happens.

    `url` is the base address; `chat_url` the endpoint the clients call.
    """

    def __init__(
        self,
        rate: str = "2/second",
        strategy: str = "fixed-window",
        latency: tuple[float, float] | str = (2, 5),
        seed: int | None = None,
        time_scale: float = 1.0,
        extra_args: tuple[str, ...] = (),
        start_timeout: float = 20.0,
    ) -> None:
        if not isinstance(latency, str):
            latency = "-".join(f"{x:g}" for x in latency)
        self.args = [
            "--port",
            "0",
            "--rate",
            rate,
            "--strategy",
            strategy,
            "--latency",
            latency,
            "--time-scale",
            repr(float(time_scale)),
            *extra_args,
        ]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.time_scale = time_scale
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._output = Path(tempfile.mkstemp(prefix="ratebench-server-", suffix=".log")[1])

    @property
    def chat_url(self) -> str:
        return f"{self.url}/chat"

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"<MockServer {self.url or 'not started'} pid={pid} args={self.args}>"

    def output(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        try:
            return self._output.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> MockServer:
        try:
            return self._start()
        except BaseException:
            # Ctrl-C while waiting for it, or a server that never answered:
            # never leave the process behind.
            self.stop()
            raise

    def _start(self) -> MockServer:
        with self._output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mock_server", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # prctl only: safe between fork and exec even with threads running.
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                last = self.output().strip().splitlines()
                reason = last[-1] if last else f"exit status {self.process.returncode}"
                raise ServerError(f"mock server did not start: {reason}")
            for line in self.output().splitlines():
                if line.startswith(READY_PREFIX):
                    self.url = line[len(READY_PREFIX) :].split()[0]
            if self.url and self._healthy():
                return self
            time.sleep(0.05)
        raise ServerError(f"mock server did not answer within {self.start_timeout:g} s")

    def _healthy(self) -> bool:
        try:
            self.get("/health", timeout=1.0)
        except ServerError:
            return False
        return True

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone within 5 s."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self._output.unlink()

    # -- talking to it -------------------------------------------------------

    def get(self, path: str, timeout: float = 10.0) -> Any:
        return _request(self.url + path, "GET", timeout)

    def reset(self, seed: int | None = None) -> Any:
        """Clear the server's log and limiter state; reseed its latency draw."""
        query = "" if seed is None else f"?seed={seed}"
        return _request(f"{self.url}/reset{query}", "POST", 10.0)

    def log(self) -> list[dict[str, Any]]:
        """Every /chat request the server saw since the last reset, in arrival order."""
        entries: list[dict[str, Any]] = self.get("/log")["entries"]
        return entries


def _request(url: str, method: str, timeout: float) -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise ServerError(f"mock server at {url} did not answer: {exc}") from exc


def fetch_log(base_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """`GET /log` of a server that may be running elsewhere (`--url`)."""
    result: dict[str, Any] = _request(base_url.rstrip("/") + "/log", "GET", timeout)
    return result


def reset_server(base_url: str, seed: int | None = None, timeout: float = 10.0) -> Any:
    query = "" if seed is None else f"?seed={seed}"
    return _request(f"{base_url.rstrip('/')}/reset{query}", "POST", timeout)
