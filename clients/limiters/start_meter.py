"""The wait a scheduler of jobs imposed before a job started, as a limiter wait.

For clients that pace when each request's job *starts* (aiometer's
`run_all(max_per_second=...)`) rather than each attempt: `stamped(job)`
notes when the scheduler let the job start, and `StartMeter.acquire`
reports the time from the batch's start until then as the limiter wait of
the job's first attempt; later attempts wait for nothing.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from clients.infra.steps import Steps
from clients.limiters.base import Clock, Limiter

T = TypeVar("T")

# When the current task's job was let start; set in the job's own task, so
# every job sees its own.
_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("job_started", default=None)


async def stamped(job: Callable[[], Awaitable[T]], clock: Clock = time.monotonic) -> T:
    """Run `job`, noting in its task when it started."""
    _started.set(clock())
    return await job()


class StartMeter(Limiter):
    """Waits for nothing; reports how long the scheduler held the job back."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.created = clock()  # built as the batch starts, like the buckets

    def acquire(self) -> Steps[float]:
        yield from ()
        # The asyncio driver runs this generator in the job's own task, so
        # the context variable is the job's.
        started = _started.get()
        if started is None:
            return 0.0
        _started.set(None)
        return max(0.0, started - self.created)

    def __repr__(self) -> str:
        return "<StartMeter>"
