"""Client `aiolimiter`: asyncio + aiohttp + aiolimiter's `AsyncLimiter(2, 1)`.

aiolimiter is a leaky bucket that starts empty, which is to say with room
for a burst: the first 2 attempts go at t = 0 and then one every 0.5 s as
the level leaks. Against slowapi's fixed window, anchored at the first hit,
the third send (0.5 s) lands in the first window beside the burst of 2 and
is rejected; its retry takes a limiter slot again 3 s later.
"""

from __future__ import annotations

import aiolimiter

from clients.async_batch import run_async_batch
from clients.config import ClientConfig
from clients.limiter import LeakyBucketLimiter
from clients.recorder import OnLine
from clients.records import ClientRun

NAME = "aiolimiter"


def make_limiter(config: ClientConfig) -> LeakyBucketLimiter:
    # AsyncLimiter(max_rate, time_period): `capacity` acquisitions per
    # capacity / rate scenario seconds (2 per 1 s), the period in wall seconds.
    period = config.capacity / config.rate * config.time_scale
    return LeakyBucketLimiter(aiolimiter.AsyncLimiter(config.capacity, period))


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    return run_async_batch(NAME, config, make_limiter, on_line)
