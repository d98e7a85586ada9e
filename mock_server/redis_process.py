"""A real `redis-server` as a child process, on a free port of 127.0.0.1.

For tests and the bench's shared-limit scenario: nothing is saved to disk
(`--save '' --appendonly no`), and the server is stopped on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

import redis


class RedisUnavailable(RuntimeError):
    """redis-server is not installed, or would not start; the message says how to fix it."""


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """`with RedisServer() as r:` starts redis-server; `r.url` is its redis:// URL."""

    def __init__(self, start_timeout: float = 10.0) -> None:
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._dir = ""

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"<RedisServer {self.url or 'not started'} pid={pid}>"

    def start(self) -> RedisServer:
        path = redis_server_path()
        if path is None:
            raise RedisUnavailable(
                "redis-server is not installed: `apt-get install -y redis-server` "
                "(or any Redis 6+ on PATH)"
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._dir = tempfile.mkdtemp(prefix="ratebench-redis-")
        self.process = subprocess.Popen(
            [
                path,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + self.start_timeout
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RedisUnavailable(
                            f"redis-server did not start on port {port}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
