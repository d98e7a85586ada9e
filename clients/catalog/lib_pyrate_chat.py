"""Client `lib_pyrate_chat`: pyrate-limiter's `Limiter` on the write-up's `/chat`.

`lib_pyrate`'s limiter (pyrate-limiter's README: a
`Limiter(BucketAsyncWrapper(InMemoryBucket([Rate(L, T)])))`, its default
sliding-window log and 50 ms buffer, `await try_acquire_async(name)`) told
the write-up's limit: at most L acquisitions in any rolling T, before every
attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_pyrate_chat"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="pyrate-limiter: a sliding-window Limiter of L per T before every attempt",
    explain=(
        "pyrate-limiter's default sliding-window log admits at most L acquisitions in any "
        "rolling T, plus its 50 ms buffer: L sends at once, then L more once the first are a "
        "window old."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="pyrate-limiter's code is a library's, not ours; the simulator runs only ours",
    library="pyrate-limiter",
)


def library_calls(config: ClientConfig) -> Callable[[], Awaitable[object]]:
    from pyrate_limiter import BucketAsyncWrapper, InMemoryBucket, Limiter, Rate

    # L = capacity per T = capacity / rate scenario seconds, in wall milliseconds.
    interval = round(config.scaled(config.capacity / config.rate) * 1000)
    limiter = Limiter(BucketAsyncWrapper(InMemoryBucket([Rate(config.capacity, interval)])))

    async def acquire() -> None:
        await limiter.try_acquire_async("chat")

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    import pyrate_limiter  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_chat

    return run_chat(NAME, config, library_calls, on_line)
