"""Client `token_bucket`: asyncio.gather + aiohttp + the write-up's token bucket.

Every attempt, retries included, takes one token first. The bucket starts
empty, so the first send is at 1/rate (0.5 s) and then one every 0.5 s.
"""

from __future__ import annotations

from clients.async_batch import run_async_batch
from clients.config import ClientConfig
from clients.limiter import BucketLimiter
from clients.recorder import OnLine
from clients.records import ClientRun
from clients.token_bucket import TokenBucket

NAME = "token_bucket"


def make_limiter(config: ClientConfig) -> BucketLimiter:
    # config.rate is per scenario second; the bucket counts wall seconds.
    bucket = TokenBucket(
        rate=config.rate / config.time_scale,
        capacity=config.capacity,
        initial_tokens=config.initial_tokens,
    )
    return BucketLimiter(bucket)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_async_batch(NAME, config, make_limiter, on_line)
