"""Client `naive_gather`: asyncio.gather + aiohttp, no limiter, as in the write-up.

Every request goes at t = 0; the server's window admits 2 and rejects the
other 8, and the retries that follow collide again on each backoff step.
"""

from __future__ import annotations

from clients.async_batch import run_async_batch
from clients.config import ClientConfig
from clients.limiter import NoLimit
from clients.recorder import OnLine
from clients.records import ClientRun

NAME = "naive_gather"


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_async_batch(NAME, config, lambda _config: NoLimit(), on_line)
