"""Client `aiolimiter`: asyncio + aiohttp + aiolimiter's `AsyncLimiter(2, 1)`.

aiolimiter is a leaky bucket that starts empty, which is to say with room
for a burst: the first 2 attempts go at t = 0 and then one every 0.5 s as
the level leaks. Against slowapi's fixed window, anchored at the first hit,
the third send (0.5 s) lands in the first window beside the burst of 2 and
is rejected; its retry takes a limiter slot again 3 s later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.limiters.base import LeakyBucketLimiter

NAME = "aiolimiter"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="leaky bucket",
    summary="asyncio + aiohttp + aiolimiter's AsyncLimiter(capacity, capacity / rate)",
    explain=(
        "aiolimiter's leaky bucket starts with room for a burst: the first `capacity` "
        "attempts go at t = 0 and then one every 1/rate as the level leaks. Against a fixed "
        "window anchored at the first hit, the next send lands in the window the burst opened"
        " and is rejected."
    ),
    paces=True,
    caps_in_flight=False,
    no_model=(
        "aiolimiter's leaky bucket is a library's code, not ours; the simulator runs only"
        " limiters written here"
    ),
    library="aiolimiter",
)


def make_limiter(config: ClientConfig) -> LeakyBucketLimiter:
    import aiolimiter

    from clients.limiters.base import LeakyBucketLimiter

    # AsyncLimiter(max_rate, time_period): `capacity` acquisitions per
    # capacity / rate scenario seconds (2 per 1 s), the period in wall seconds.
    period = config.capacity / config.rate * config.time_scale
    return LeakyBucketLimiter(aiolimiter.AsyncLimiter(config.capacity, period))


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    # Imported before the batch's clock starts: aiolimiter reads its version
    # through importlib.metadata, about 10 ms, which would delay the first send.
    import aiolimiter  # noqa: F401

    from clients.infra.async_batch import run_async_batch

    return run_async_batch(NAME, config, make_limiter, on_line)
