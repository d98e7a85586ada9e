"""Client `shared_window`: asyncio.gather + aiohttp + one limit shared through Redis.

The token-bucket client's shape, with the bucket replaced by a sliding log
in Redis (`clients.limiters.redis_log`): every attempt, retries included, takes a
place in the log first. Any number of these clients, in any number of
processes (`python -m clients shared_window --client-procs 4`), share one
limit of `capacity` sends per `capacity / rate` scenario seconds: the
server's 2 per second by default. Sends go two at once at the start of each
window, the best schedule there is, with a small margin per window for the
trip to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.async_batch import Job
    from clients.limiters.redis_log import RedisSlidingLog

NAME = "shared_window"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="shared sliding log",
    summary="asyncio + aiohttp + one sliding log in Redis shared by every process",
    explain=(
        "The token-bucket client's shape with the bucket replaced by a sliding log in Redis, "
        "checked and appended by one Lua script: any number of processes share one limit of L"
        " sends per T, and together reach the bound."
    ),
    paces=True,
    caps_in_flight=False,
    no_model=(
        "it shares one limit between processes through Redis, whose clock and trips the "
        "simulator does not model"
    ),
    needs=frozenset({"redis"}),
)

# The margin per window: 2 % of it, and never under 15 ms of wall time. With
# 4 server workers, 4 client processes and Redis on 2 cores, a send reaches
# the server's decision 1 to 14 ms later (measured from the server's log); a
# window opened by a late request must not catch the next window's first.
MARGIN_SHARE = 0.02
MARGIN_FLOOR = 0.015


def make_limiter(config: ClientConfig, key: str | None = None) -> RedisSlidingLog:
    from clients.limiters.redis_log import DEFAULT_KEY, RedisSlidingLog

    window = config.scaled(config.capacity / config.rate)  # wall seconds
    return RedisSlidingLog(
        config.redis_url,
        limit=config.capacity,
        window=window,
        margin=max(MARGIN_SHARE * window, MARGIN_FLOOR),
        key=DEFAULT_KEY if key is None else key,
    )


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import gather_all, run_async_batch

    limiter = make_limiter(config)

    async def run_all(jobs: Sequence[Job]) -> object:
        try:
            return await gather_all(jobs)
        finally:
            await limiter.close()

    return run_async_batch(NAME, config, lambda _: limiter, on_line, run_all=run_all)
