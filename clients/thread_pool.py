"""Client `thread_pool`: ThreadPoolExecutor(2) + requests, as in the write-up.

Each thread blocks for a whole request (2 to 5 s on the default server), so
at most `workers` requests are ever in flight: throughput is workers over
mean latency (2 / 3.5 s), far below the server's 2 requests per second.
"""

from __future__ import annotations

from clients.config import ClientConfig
from clients.limiter import NoLimitSync
from clients.recorder import OnLine
from clients.records import ClientRun
from clients.thread_batch import run_thread_batch

NAME = "thread_pool"


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_thread_batch(NAME, config, lambda _config: NoLimitSync(), on_line)
