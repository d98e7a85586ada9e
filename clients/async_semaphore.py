"""Client `async_semaphore`: asyncio + aiohttp + Semaphore(workers), per attempt.

The asyncio twin of `thread_pool`: at most `workers` (2) attempts in flight,
the next one going out when one returns. With latencies of 2 to 5 s that is
2 / 3.5 s = 0.57 requests/s, as slow as the thread pool: what made the pool
slow was the cap on requests in flight, not threads or `requests`.
"""

from __future__ import annotations

from clients.async_batch import run_async_batch
from clients.config import ClientConfig
from clients.limiter import SemaphoreLimiter
from clients.recorder import OnLine
from clients.records import ClientRun

NAME = "async_semaphore"


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_async_batch(NAME, config, lambda c: SemaphoreLimiter(c.workers), on_line)
