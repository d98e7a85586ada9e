"""Client `threads_fifo`: a thread per request + requests + the bucket that wakes one waiter.

The threaded twin of `fifo_bucket`, and the answer to `threads_bucket`'s 429s
at scale. With the write-up's bucket every waiting thread wakes for every
token: at 2,000 requests and 100 tokens a second that is 200,000 wake-ups a
second, each needing the interpreter lock and the driver's lock, so the
thread whose token it is runs late, the bucket fills meanwhile, and the
tokens it then hands out at once cross a window edge together. Measured at
2,000 requests × 100/second, latency 1-2 s, time scale 1: the write-up's
bucket on threads 36 × 429 and 11.2 ms of CPU per request, this one 0 × 429
and 4.0 ms. The fault was the bucket's wake-ups, not threads.
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

NAME = "threads_fifo"

SPEC = ClientSpec(
    name=NAME,
    concurrency="threads",
    policy="token bucket",
    summary="a thread per request + requests + the bucket that wakes one waiter per token",
    explain=(
        "The threaded twin of `fifo_bucket`: one thread per request, the waiting threads "
        "in a first-come, first-served queue, so each token wakes one thread. With the "
        "write-up's bucket every thread wakes for every token; at thousands of threads "
        "the token's owner runs late and the bucket releases a burst."
    ),
    paces=True,
    caps_in_flight=False,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.catalog.fifo_bucket import make_limiter
    from clients.infra.thread_batch import run_thread_batch

    return run_thread_batch(NAME, config, make_limiter, on_line, shape="tasks")


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): `fifo_bucket`'s, the same bucket."""
    from clients.catalog.fifo_bucket import virtual_loops as fifo_bucket_loops

    return fifo_bucket_loops(batch)
