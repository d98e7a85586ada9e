"""Client `token_bucket`: asyncio.gather + aiohttp + the write-up's token bucket.

Every attempt, retries included, takes one token first. The bucket starts
empty, so the first send is at 1/rate (0.5 s) and then one every 0.5 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec, Model

if TYPE_CHECKING:
    from clients.limiters.bucket import TokenBucket

NAME = "token_bucket"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="token bucket",
    summary="asyncio + aiohttp + the write-up's token bucket",
    explain=(
        "Each attempt first takes a whole token from the write-up's bucket, which starts "
        "empty and refills at `rate` tokens per second: the first send goes at 1/rate and "
        "then one every 1/rate. It never sends two at once, so it ends about one send "
        "interval behind the bound."
    ),
    paces=True,
    caps_in_flight=False,
    model=Model("tasks", "bucket"),
)


def make_limiter(config: ClientConfig) -> TokenBucket:
    """The write-up's bucket for `config`; `threads_bucket` takes the same one."""
    from clients.limiters.bucket import TokenBucket

    # config.rate is per scenario second; the bucket counts wall seconds.
    return TokenBucket(
        rate=config.rate / config.time_scale,
        capacity=config.capacity,
        initial_tokens=config.initial_tokens,
    )


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch

    return run_async_batch(NAME, config, make_limiter, on_line)
