"""Run the mock server as a real process: for tests, the bench and the CLI.

`MockServer` is a `ChildServer` (see child.py for how the process is started
and stopped); it asks for port 0 and reads the real address from the line the
server prints once it listens.
"""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.request
from typing import Any

import mock_server
from mock_server.processes.child import ChildServer
from mock_server.redact import redact
from mock_server.settings import READY_PREFIX


class ServerError(RuntimeError):
    """The mock server would not start, or stopped answering."""


class MockServer(ChildServer):
    """`with MockServer(time_scale=0.1) as server:` starts `python -m mock_server`
    on a free port of 127.0.0.1, waits until it answers, and stops it on exit,
    whatever happens.

    `url` is the base address; `chat_url` the endpoint the clients call.
    """

    name = "mock server"
    error = ServerError

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
        super().__init__(start_timeout)
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
        # Unbuffered: the line saying where it listens must not wait in a buffer.
        self.env["PYTHONUNBUFFERED"] = "1"

    @property
    def chat_url(self) -> str:
        return f"{self.url}/chat"

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        args = [redact(a) for a in self.args]  # a --storage URI's password stays out of logs
        return f"<MockServer {self.url or 'not started'} pid={pid} args={args}>"

    def command(self) -> list[str]:
        return [sys.executable, "-m", mock_server.__name__, *self.args]

    def ready(self) -> bool:
        if not self.url:
            for line in self.output().splitlines():
                if line.startswith(READY_PREFIX):
                    self.url = line[len(READY_PREFIX) :].split()[0]
        return bool(self.url) and self._healthy()

    def _healthy(self) -> bool:
        try:
            self.get("/health", timeout=1.0)
        except ServerError:
            return False
        return True

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
    # A server that dies mid-answer raises http.client.IncompleteRead, which is
    # neither a URLError nor an OSError.
    except (urllib.error.URLError, OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        raise ServerError(f"mock server at {url} did not answer: {exc}") from exc


def fetch_log(base_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """`GET /log` of a server that may be running elsewhere (`--url`), read a
    page at a time (`?since=N`): `now` and `settings` of the first page, and
    every entry, without its null fields. A server without pages (an older
    one) answers the whole log at once, which is taken as it is."""
    url = base_url.rstrip("/") + "/log"
    log: dict[str, Any] = _request(f"{url}?since=0", "GET", timeout)
    if "next" not in log:
        return log
    entries: list[dict[str, Any]] = log["entries"]
    page = log
    while page["entries"]:
        page = _request(f"{url}?since={int(page['next'])}", "GET", timeout)
        entries.extend(page["entries"])
    del log["next"]
    return log


def reset_server(base_url: str, seed: int | None = None, timeout: float = 10.0) -> Any:
    query = "" if seed is None else f"?seed={seed}"
    return _request(f"{base_url.rstrip('/')}/reset{query}", "POST", timeout)
