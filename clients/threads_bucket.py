"""Client `threads_bucket`: a thread per request + requests + a thread-safe token bucket.

The threaded twin of `token_bucket`: the same bucket (rate 2/s, capacity 2,
starting empty, whole tokens), taken before every attempt. The pool has one
thread per request, so that the bucket, not the pool, is what limits it; with
the write-up's 2 threads the pool would cap it at 2 in flight, as in
`thread_pool`. Threads themselves were never the problem.
"""

from __future__ import annotations

from clients.config import ClientConfig
from clients.limiter import ThreadBucketLimiter
from clients.recorder import OnLine
from clients.records import ClientRun
from clients.thread_batch import run_thread_batch
from clients.thread_bucket import ThreadTokenBucket

NAME = "threads_bucket"


def make_limiter(config: ClientConfig) -> ThreadBucketLimiter:
    # config.rate is per scenario second; the bucket counts wall seconds.
    bucket = ThreadTokenBucket(
        rate=config.rate / config.time_scale,
        capacity=config.capacity,
        initial_tokens=config.initial_tokens,
    )
    return ThreadBucketLimiter(bucket)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_thread_batch(NAME, config, make_limiter, on_line, threads=config.n)
