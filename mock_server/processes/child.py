"""A server as a child process: started, waited for until it answers, stopped on exit.

The one way the mock server (`server.MockServer`) and Redis
(`redis_server.RedisServer`) are run. The child is in its own session, so
that a Ctrl-C in the terminal reaches only the parent, which then stops the
child in order; on Linux the child is also asked to die with its parent, so
that not even a SIGKILL of the parent leaves a server behind. What the child
prints goes to a temporary file, so that one that would not start can say why.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of `host` that nothing listens on now. Another process may
    still take it before the child binds it; the child then fails to start,
    saying so."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: ask for SIGTERM when the parent dies (call it in the child)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ChildServer:
    """`with Sub(...) as server:` starts `command()`, polls `ready()` every 50 ms
    until it is true, and stops the child on exit, whatever happens.

    Subclasses give `command()` and `ready()`, and may set `url` in either;
    `start` raises `error` (a subclass's own exception) with a one-line reason
    when the child exits, cannot be run, or does not answer within
    `start_timeout` seconds.
    """

    name: ClassVar[str] = "server"  # what messages call it
    error: ClassVar[type[Exception]] = RuntimeError

    def __init__(self, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.env: dict[str, str] = {}  # added to this process's environment for the child
        self._output: Path | None = None

    def command(self) -> list[str]:
        """The child's argv; called once, by `start`."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the child answers; must not block for more than about a second."""
        raise NotImplementedError

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"<{type(self).__name__} {self.url or 'not started'} pid={pid}>"

    def output(self) -> str:
        """What the child printed so far (stdout and stderr)."""
        if self._output is None:
            return ""
        try:
            return self._output.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> Self:
        """Start the child and block until `ready()`; raises `error` if it never is."""
        return self.spawn().wait_ready()

    def spawn(self) -> Self:
        """Start the child without waiting for it: several children start side by
        side when each is spawned first and then waited for (`wait_ready`).

        The child is tied to the thread that spawns it (on Linux it is killed
        when that thread ends), so spawn from a thread that outlives it.
        """
        try:
            self._spawn()
        except BaseException:
            self.close()
            raise
        return self

    def wait_ready(self) -> Self:
        """Block until the spawned child is `ready()`; raises `error` if it never is."""
        try:
            self._wait_ready()
        except BaseException:
            # Ctrl-C while waiting for it, or a child that never answered:
            # never leave the process (or its files) behind. The error
            # already quotes what it printed.
            self.close()
            raise
        return self

    def _spawn(self) -> None:
        command = self.command()
        fd, output = tempfile.mkstemp(
            prefix=f"ratebench-{self.name.replace(' ', '-')}-", suffix=".log"
        )
        self._output = Path(output)
        with os.fdopen(fd, "wb") as out:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    # prctl only: safe between fork and exec even with threads running.
                    preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                    env={**os.environ, **self.env},
                )
            except OSError as exc:
                raise self.error(f"{self.name} could not be run ({command[0]}): {exc}") from None

    def _wait_ready(self) -> None:
        assert self.process is not None, "spawn() first"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                last = self.output().strip().splitlines()
                reason = last[-1].strip() if last else f"exit status {self.process.returncode}"
                raise self.error(f"{self.name} did not start: {reason}")
            if self.ready():
                return
            time.sleep(0.05)
        raise self.error(f"{self.name} did not answer within {self.start_timeout:g} s")

    def terminate(self) -> None:
        """SIGTERM without waiting: `stop` then finds it gone or going, so that many
        children stop side by side."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

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

    def died(self, grace: float = 1.0) -> bool:
        """True if the process has exited, or exits within `grace` seconds.

        A server killed mid-answer resets its connections before the kernel
        has reaped it: a caller that just lost a connection asks this, not
        `alive()`, to tell a dead server from a slow one.
        """
        if self.process is None:
            return False
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self) -> None:
        """Stop the child and remove what it left on disk."""
        self.stop()
        if self._output is not None:
            with contextlib.suppress(OSError):
                self._output.unlink()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
