"""Client `threads_unbounded`: a thread per request + requests, no limiter.

The threaded twin of `naive_gather`: all requests go at t = 0, the window
admits 2 and rejects the rest, and each retry wave collides again. Threads
without a limit fail exactly as asyncio without a limit does.
"""

from __future__ import annotations

from clients.config import ClientConfig
from clients.limiter import NoLimitSync
from clients.recorder import OnLine
from clients.records import ClientRun
from clients.thread_batch import run_thread_batch

NAME = "threads_unbounded"


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_thread_batch(NAME, config, lambda _config: NoLimitSync(), on_line, threads=config.n)
