"""What every API of one worker shares, and what each API gives the server back.

The app (`mock_server.app`) builds a `Core` per worker process and hands it
to every registered endpoint (`mock_server.endpoints`), which mounts its
routes on the app and returns a `MountedEndpoint`: the server asks it which
requests it logs, resets it on `POST /reset`, warms it up before the worker
takes traffic, and has it word an error the server raises before any route
runs (a 413) in the API's own form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from mock_server.log import LogEntry
from mock_server.redis_store import SharedDraws, SharedLog
from mock_server.settings import ServerSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where a logged request's entry waits in its ASGI scope, for the endpoint.
ENTRY_KEY = "ratebench.entry"
#: Set in the scope of a worker's warm-up request: not logged, not counted.
WARM_UP_KEY = "ratebench.warm_up"
#: The client (and limiter key) of a warm-up request.
WARM_UP_CLIENT = "ratebench-warm-up"


class ArrivalLog:
    """The server's own record of the requests its APIs log, in arrival order.

    `sink`: with shared storage, every change to an entry is also written
    there (`SharedLog.save`), so that every worker's `/log` shows it.
    """

    def __init__(
        self, sink: Callable[[LogEntry], None] | None = None, worker: int | None = None
    ) -> None:
        self.entries: list[LogEntry] = []
        self.sink = sink
        self.worker = worker

    def __repr__(self) -> str:
        return f"<ArrivalLog {len(self.entries)} entries worker={self.worker}>"

    def clear(self) -> None:
        # A fresh list, so that requests still in flight from before the
        # reset fill in entries that no longer appear in the log.
        self.entries = []

    def save(self, entry: LogEntry) -> None:
        """Hand a changed entry to the shared log, if any (an entry made
        outside the log, `seq` -1, stays out)."""
        if self.sink is not None and entry.seq >= 0:
            self.sink(entry)


@dataclass(slots=True)
class SharedState:
    """What the workers of one server share through Redis (see redis_store)."""

    client: redis.Redis
    log: SharedLog
    draws: SharedDraws


@dataclass(slots=True)
class Core:
    """One worker's shared state, as every endpoint mounts on it.

    `worker`: its index with --workers N (None: the only process); `shared`:
    the Redis state of all workers, None when the server keeps it in memory.
    """

    settings: ServerSettings
    worker: int | None
    log: ArrivalLog
    shared: SharedState | None

    @property
    def follows_resets(self) -> bool:
        """Whether counters live in this worker's memory while the log is shared
        (--workers N with memory:// and --log): a /reset served by another
        worker must then reach this one's counters, before its next decision."""
        return self.shared is not None and not self.settings.storage.startswith("redis://")


class MountedEndpoint(Protocol):
    """One API mounted on one worker's app (see `mock_server.endpoints`)."""

    def entry_kind(self, scope: Scope) -> type[LogEntry] | None:
        """The log entry a request gets, if this API logs it (None: not one of its)."""
        ...

    def error_for(self, path: str, message: str) -> dict[str, Any] | None:
        """An error body in this API's form, if `path` is one of its (else None)."""
        ...

    def reset(self, seed: int | None) -> None:
        """`POST /reset`: clear the API's limits and start its draws again from `seed`."""
        ...

    async def warm_up(self, app: ASGIApp) -> None:
        """Send the API's first request through `app` before the worker takes
        traffic, unlogged and forgotten (or nothing)."""
        ...
