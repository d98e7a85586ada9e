"""Client `token_bucket`: asyncio.gather + aiohttp + the write-up's token bucket.

Every attempt, retries included, takes one token first. The bucket starts
empty, so the first send is at 1/rate (0.5 s) and then one every 0.5 s.
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


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): `fifo_bucket`'s bucket, the
    write-up's arithmetic with one wake-up per token.

    The write-up's bucket wakes every waiter for every token, n(n + 1)/2
    simulator steps for n requests (50 million at 10,000). The two grant at
    the same instants while the waiters are the batch's first attempts, which
    all start at t = 0 (tests/unit/test_fifo_bucket.py); they part only when a
    retry joins the queue: the write-up's bucket wakes it at its own phase,
    late by up to one token interval or ahead of earlier waiters, the queue
    serves it after them, each when its token is due. So the model is exact
    when no attempt is rejected and close when a few are
    (tests/unit/test_theory.py compares the two).
    """
    from clients.catalog.fifo_bucket import virtual_loops as fifo_bucket_loops

    return fifo_bucket_loops(batch)
