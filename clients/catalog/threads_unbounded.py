"""Client `threads_unbounded`: a thread per request + requests, no limiter.

The threaded twin of `naive_gather`: all requests go at t = 0, the window
admits 2 and rejects the rest, and each retry wave collides again. Threads
without a limit fail exactly as asyncio without a limit does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "threads_unbounded"

SPEC = ClientSpec(
    name=NAME,
    concurrency="threads",
    policy="no limit",
    summary="a thread per request + requests, no limiter",
    explain=(
        "The threaded twin of `naive_gather`: every request at t = 0 on its own thread. "
        "Threads without a limit fail exactly as asyncio without a limit does."
    ),
    paces=False,
    caps_in_flight=False,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.thread_batch import run_thread_batch
    from clients.limiters.base import NoLimit

    # A thread per request.
    return run_thread_batch(NAME, config, lambda _config: NoLimit(), on_line, shape="tasks")


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): a thread per request, no limit."""
    from clients.infra.virtual import batch_loops
    from clients.limiters.base import NoLimit

    return batch_loops(batch, NoLimit())
