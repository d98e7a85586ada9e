"""Client `async_semaphore`: asyncio + aiohttp + Semaphore(workers), per attempt.

The asyncio twin of `thread_pool`: at most `workers` (2) attempts in flight,
the next one going out when one returns. With latencies of 2 to 5 s that is
2 / 3.5 s = 0.57 requests/s, as slow as the thread pool: what made the pool
slow was the cap on requests in flight, not threads or `requests`.
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

NAME = "async_semaphore"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="at most N in flight",
    summary="asyncio + aiohttp + Semaphore(workers) held per attempt",
    explain=(
        "The asyncio twin of `thread_pool`: at most `workers` attempts in flight, the next "
        "going out when one returns. It is as slow as the thread pool, which shows that the "
        "pool's cap, not threads or `requests`, made it slow."
    ),
    paces=False,
    caps_in_flight=True,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch
    from clients.limiters.base import Semaphore

    return run_async_batch(NAME, config, lambda c: Semaphore(c.workers), on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its semaphore, on the virtual clock."""
    from clients.infra.virtual import batch_loops
    from clients.limiters.base import Semaphore

    return batch_loops(batch, Semaphore(batch.config.workers, clock=batch.recorder.clock))
