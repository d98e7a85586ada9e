"""The one record every client returns: one `Attempt` per HTTP request actually sent.

All times are seconds from the run's start, read on `time.monotonic()`, which
every process on the machine shares; `ClientRun.started` is that start as a raw
`time.monotonic()` reading, so a run's attempts can be lined up with the mock
server's own log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

from mock_server.vocabulary import RatebenchError

SCHEMA = "ratebench.run/1"

Outcome = Literal["ok", "rate_limited", "error", "timeout"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


class RecordError(RatebenchError):
    """A record that cannot be true (negative time, unknown outcome, ...)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request as the client saw it.

    `queued`: when the request became ready to go (before any limiter wait or
    retry sleep); `sent`: when its request reached the wire (the HTTP library
    wrote it to an open connection; for an attempt that never got that far,
    when it was handed to the library); `finished`: when its response (or
    error) came back. `limiter_wait` is the part of `sent - queued` spent
    waiting for the client's own limiter, `pool_wait` the part spent waiting
    for a connection (a free one in the HTTP library's pool, or a new one
    being opened), both in seconds.
    """

    request: int
    attempt: int
    queued: float
    sent: float
    finished: float
    status: int | None
    outcome: Outcome
    limiter_wait: float = 0.0
    pool_wait: float = 0.0

    def __post_init__(self) -> None:
        if self.request < 0 or self.attempt < 0:
            raise RecordError(
                f"request and attempt must be >= 0, got {self.request}/{self.attempt}"
            )
        for name in ("queued", "sent", "finished", "limiter_wait", "pool_wait"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise RecordError(f"{name} must be a finite number of seconds, got {value!r}")
        # A few microseconds of slack: the three readings come from one clock
        # but are rounded independently when written to JSON.
        if not (self.queued <= self.sent + 1e-6 and self.sent <= self.finished + 1e-6):
            raise RecordError(
                f"times out of order for request {self.request} attempt {self.attempt}: "
                f"queued {self.queued} sent {self.sent} finished {self.finished}"
            )
        for name in ("limiter_wait", "pool_wait"):
            if getattr(self, name) < 0:
                raise RecordError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")
        if self.outcome not in OUTCOMES:
            raise RecordError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        try:
            return cls(
                request=int(data["request"]),
                attempt=int(data["attempt"]),
                queued=float(data["queued"]),
                sent=float(data["sent"]),
                finished=float(data["finished"]),
                status=None if data["status"] is None else int(data["status"]),
                outcome=cast(Outcome, data["outcome"]),
                limiter_wait=float(data.get("limiter_wait", 0.0)),
                # Records written before the pool wait was measured read as 0.
                pool_wait=float(data.get("pool_wait", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"not an attempt record: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """What a client's own process spent (`clients.infra.procs`): `cpu_seconds`,
    user + system CPU from the batch's go to its end (start-up and imports
    left out); `peak_rss_mb`, the process's peak resident memory, imports
    included (what a user's process pays for the library)."""

    cpu_seconds: float
    peak_rss_mb: float

    def to_dict(self) -> dict[str, float]:
        return {"cpu_seconds": self.cpu_seconds, "peak_rss_mb": self.peak_rss_mb}

    @classmethod
    def from_dict(cls, data: object) -> ProcessUsage | None:
        if data is None:
            return None
        if not isinstance(data, dict):
            raise RecordError(f"usage must be an object or null, got {data!r}")
        try:
            return cls(float(data["cpu_seconds"]), float(data["peak_rss_mb"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"not a process usage record: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class ClientRun:
    """Everything one client did for one batch.

    `makespan` runs from the batch's start (t = 0, when the client was handed
    the batch) to the last response, in seconds of this process's clock: the
    figure hyperfine measured in the write-up, less interpreter start-up.
    A request is `completed` if one of its attempts came back `ok`.
    """

    client: str
    n: int
    started: float
    attempts: tuple[Attempt, ...]
    makespan: float
    usage: ProcessUsage | None = None  # set by a run in processes of its own

    @classmethod
    def of(cls, client: str, n: int, started: float, attempts: Iterable[Attempt]) -> ClientRun:
        """The run of these attempts, in order of request and attempt number;
        `makespan` to its last finished attempt (0.0 if nothing was sent)."""
        ordered = tuple(sorted(attempts, key=lambda a: (a.request, a.attempt)))
        makespan = max((a.finished for a in ordered), default=0.0)
        return cls(client=client, n=n, started=started, attempts=ordered, makespan=makespan)

    @property
    def completed(self) -> int:
        return len({a.request for a in self.attempts if a.outcome == "ok"})

    @property
    def failed(self) -> int:
        return self.n - self.completed

    @property
    def rejections(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "rate_limited")

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "n": self.n,
            "started": self.started,
            "makespan": self.makespan,
            "completed": self.completed,
            "rejections": self.rejections,
            "attempts": [a.to_dict() for a in self.attempts],
        } | ({} if self.usage is None else {"usage": self.usage.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClientRun:
        try:
            return cls(
                client=str(data["client"]),
                n=int(data["n"]),
                started=float(data["started"]),
                attempts=tuple(Attempt.from_dict(a) for a in data["attempts"]),
                makespan=float(data["makespan"]),
                usage=ProcessUsage.from_dict(data.get("usage")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"not a client run record: {exc}") from exc
