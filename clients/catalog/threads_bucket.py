"""Client `threads_bucket`: a thread per request + requests + the write-up's token bucket.

The threaded twin of `token_bucket`: the same bucket, the very same class
(rate 2/s, capacity 2, starting empty, whole tokens), taken before every
attempt; the thread driver runs it one step at a time, as asyncio does. The pool has one
thread per request, so that the bucket, not the pool, is what limits it; with
the write-up's 2 threads the pool would cap it at 2 in flight, as in
`thread_pool`. Threads themselves were never the problem.
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

NAME = "threads_bucket"

SPEC = ClientSpec(
    name=NAME,
    concurrency="threads",
    policy="token bucket",
    summary="a thread per request + requests + the write-up's bucket, thread-safe",
    explain=(
        "The threaded twin of `token_bucket`: one thread per request, each taking a token "
        "from the same bucket before every attempt. It paces exactly like the asyncio client:"
        " threads were never the problem, the cap on requests in flight was."
    ),
    paces=True,
    caps_in_flight=False,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.catalog.token_bucket import make_limiter
    from clients.infra.thread_batch import run_thread_batch

    # The very bucket `token_bucket` uses (one class for every driver), and a
    # thread per request.
    return run_thread_batch(NAME, config, make_limiter, on_line, shape="tasks")


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): `token_bucket`'s, the same bucket."""
    from clients.catalog.token_bucket import virtual_loops as token_bucket_loops

    return token_bucket_loops(batch)
