"""Client `lib_limits`: the `limits` package as a client-side limiter, its async moving window.

limits (https://limits.readthedocs.io, "Strategies", "Async") is the server
side's library here, and people reach for it on the client side too: its
async strategies share one interface, `hit` (consume), `test` (would it
fit?) and `get_window_stats` (remaining, reset time). It has no "wait until
it fits", so the lines a user writes are the loop its API implies: test
both limits, hit both, else sleep until the earliest reset time it
reports. The strategy is its moving window ("Moving Window": the exact one,
no burst at a boundary) on its async `MemoryStorage`; the tokens are the
hit's `cost`.

limits counts windows in whole seconds (`RateLimitItemPerSecond(amount,
multiples)`), so a minute at a time scale that does not make it a whole
number of seconds cannot be told to it (ConfigError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_limits"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="limits' async MovingWindowRateLimiter: test, hit, else sleep to the reset time",
    explain=(
        "limits' moving window, tested and hit for both limits (the tokens as the hit's "
        "cost), sleeping until the reset time it reports when either is full: at most the "
        "limit in any rolling minute, with no margin for the time a send takes to reach the "
        "server."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="limits' strategies are a library's code; the simulator runs only ours",
    api="openai",
    library="limits",
)


def whole_seconds(name: str, wall: float) -> int:
    """`wall` seconds as the whole seconds limits counts; ConfigError if it is not one."""
    seconds = round(wall)
    if seconds < 1 or abs(seconds - wall) > 1e-6:
        raise ConfigError(
            f"{name}: limits counts windows in whole seconds, and this one is {wall:g} wall "
            "seconds at this time scale: choose a time scale that makes it a whole number"
        )
    return seconds


def library_calls(config: ClientConfig) -> Callable[[int], Awaitable[object]]:
    import asyncio
    import time

    from limits import RateLimitItemPerSecond
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    from clients.infra.library_batch import minute, told

    rpm, tpm = told(NAME, config)
    seconds = whole_seconds(NAME, minute(config))
    limiter = MovingWindowRateLimiter(MemoryStorage())
    requests = RateLimitItemPerSecond(rpm, seconds)
    tokens = RateLimitItemPerSecond(tpm, seconds)

    async def acquire(charge: int) -> None:
        while True:
            if await limiter.test(requests, "requests") and await limiter.test(
                tokens, "tokens", cost=charge
            ):
                await limiter.hit(requests, "requests")
                await limiter.hit(tokens, "tokens", cost=charge)
                return
            stats = [
                await limiter.get_window_stats(requests, "requests"),
                await limiter.get_window_stats(tokens, "tokens"),
            ]
            await asyncio.sleep(max(0.001, min(s.reset_time for s in stats) - time.time()))

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    import limits.aio.strategies  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_completions

    return run_completions(NAME, config, library_calls, on_line)
