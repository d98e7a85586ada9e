"""Client `naive_gather`: asyncio.gather + aiohttp, no limiter, as in the write-up.

Every request goes at t = 0; the server's window admits 2 and rejects the
other 8, and the retries that follow collide again on each backoff step.
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

NAME = "naive_gather"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="no limit",
    summary="asyncio.gather over the whole batch + aiohttp, no limiter",
    explain=(
        "Starts every request at once with `asyncio.gather` and `aiohttp`, with no limiter. "
        "The first window admits the limit and rejects the rest; every retry wave arrives "
        "together and collides again, so the retry sleeps, not the limit, set the makespan."
    ),
    paces=False,
    caps_in_flight=False,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch
    from clients.limiters.base import NoLimit

    return run_async_batch(NAME, config, lambda _config: NoLimit(), on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): every request at once, no limit."""
    from clients.infra.virtual import batch_loops
    from clients.limiters.base import NoLimit

    return batch_loops(batch, NoLimit())
