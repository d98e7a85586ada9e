"""Client `fifo_bucket`: asyncio.gather + aiohttp + the write-up's bucket, waiters in a queue.

The same schedule as `token_bucket` (rate, capacity, starts empty, whole
tokens: the bucket's arithmetic is the write-up's), from a bucket that wakes
one waiter per token instead of every waiter (`clients.limiters.fifo_bucket`).
The write-up's bucket costs n wake-ups per token with n requests waiting,
which at a few thousand requests eats enough CPU to slow its own pace; this
one costs one.
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
    from clients.limiters.base import Clock
    from clients.limiters.fifo_bucket import FifoBucket

NAME = "fifo_bucket"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="token bucket",
    summary="asyncio + aiohttp + the write-up's bucket, waking one waiter per token",
    explain=(
        "The write-up's bucket with its waiters in a first-come, first-served queue: only "
        "the waiter at the head sleeps until the next token, and taking it hands the turn "
        "to the next one. Same schedule as `token_bucket` (first send at 1/rate, then one "
        "every 1/rate), but one wake-up per token instead of one per waiting request, so "
        "its CPU per request stays flat as the batch grows."
    ),
    paces=True,
    caps_in_flight=False,
)


def make_limiter(config: ClientConfig, clock: Clock | None = None) -> FifoBucket:
    """The queued bucket for `config`, with the write-up's bucket's knobs; `clock`:
    theory's virtual one, by default the real one."""
    import time

    from clients.limiters.fifo_bucket import FifoBucket

    # config.rate is per scenario second; the bucket counts wall seconds.
    return FifoBucket(
        rate=config.rate / config.time_scale,
        capacity=config.capacity,
        initial_tokens=config.initial_tokens,
        clock=clock or time.monotonic,
    )


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch

    return run_async_batch(NAME, config, make_limiter, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its bucket, on the virtual clock."""
    from clients.infra.virtual import batch_loops

    return batch_loops(batch, make_limiter(batch.config, batch.recorder.clock))
