"""`--workers N`: N uvicorn worker processes behind one listening socket.

This is what `uvicorn --workers N` (and gunicorn) do: the parent binds the
socket, then N forked children each run `uvicorn.Server` on that same socket,
and the kernel hands every new connection to whichever child accepts it
first. A keep-alive connection stays with its worker, so one client's
requests may all meet the same worker while another's are spread out.

The parent only supervises: it prints the ready line once every worker is
serving, forwards SIGTERM/SIGINT to the workers, and if one worker dies, stops
the others and exits non-zero (a server that lost a worker would silently
change what is measured). Each worker is asked to die with the parent, so not
even a SIGKILL of the parent leaves workers behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

from mock_server.processes.child import die_with_parent

WarmUp = Callable[[Any], Awaitable[None]]


class WorkerError(RuntimeError):
    """A worker would not start, or died."""


class ReadyServer(uvicorn.Server):
    """uvicorn.Server that reports once it is accepting connections."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None],
        warm_up: WarmUp | None = None,
    ) -> None:
        super().__init__(config)
        self.on_ready = on_ready
        self.warm_up = warm_up

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            if self.warm_up is not None:
                await self.warm_up(self.config.app)
            self.on_ready()


def _child(
    index: int,
    sock: socket.socket,
    ready_fd: int,
    make_config: Callable[[int], uvicorn.Config],
    warm_up: WarmUp | None,
) -> int:  # pragma: no cover - child
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform == "linux":
        die_with_parent()

    def ready() -> None:
        os.write(ready_fd, bytes([index]))

    try:
        ReadyServer(make_config(index), ready, warm_up).run(sockets=[sock])
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def serve(
    sock: socket.socket,
    workers: int,
    make_config: Callable[[int], uvicorn.Config],
    on_ready: Callable[[], None],
    warm_up: WarmUp | None = None,
    start_timeout: float = 30.0,
) -> int:
    """Fork `workers` children serving `sock`; return the exit status.

    `make_config(index)` runs in the child, so each worker builds its own app
    (its own Redis connections, its own event loop). `on_ready` runs in the
    parent once all of them accept connections.
    """
    read_fd, write_fd = os.pipe()
    children: dict[int, int] = {}  # pid -> worker index
    stopping: list[int] = []

    def stop_all(sig: int = signal.SIGTERM) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        stop_all()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for index in range(workers):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os.close(read_fd)
            os._exit(_child(index, sock, write_fd, make_config, warm_up))
        children[pid] = index
    os.close(write_fd)
    sock.close()  # the children hold it now

    status = 0
    try:
        _wait_ready(read_fd, workers, children, start_timeout)
    except WorkerError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        stop_all()
        status = 1
    else:
        if not stopping:
            on_ready()
    finally:
        os.close(read_fd)
    while children:
        try:
            pid, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping and status == 0:
            print(
                f"error: worker {index} exited unexpectedly (status {code}); stopping the others",
                file=sys.stderr,
                flush=True,
            )
            status = 1
            stopping.append(0)
            stop_all()
    return status


def _wait_ready(read_fd: int, workers: int, children: dict[int, int], timeout: float) -> None:
    """Block until every worker has written its byte to the pipe."""
    ready: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(ready) < workers:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkerError(
                f"only {len(ready)} of {workers} workers started within {timeout:g} s"
            )
        readable, _, _ = select.select([read_fd], [], [], min(left, 0.2))
        if readable:
            data = os.read(read_fd, 64)
            if not data:
                raise WorkerError(
                    f"a worker exited before it was ready ({len(ready)} of {workers} started)"
                )
            ready.update(data)
        for pid in list(children):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                raise WorkerError(f"worker {children.pop(pid)} exited before it was ready")
