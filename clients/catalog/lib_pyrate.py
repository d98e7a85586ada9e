"""Client `lib_pyrate`: pyrate-limiter, one `Limiter` per limit, tokens as the acquire's weight.

As pyrate-limiter's README shows it (https://pyratelimiter.readthedocs.io,
"Defining rates & buckets", "Weight", "asyncio & event loops"): a
`Limiter(BucketAsyncWrapper(InMemoryBucket([Rate(limit, interval)])))` per
resource, its default algorithm (a sliding-window log: "never allows a burst
above limit in any rolling interval") and its default `buffer_ms` of 50 ms;
`await limiter.try_acquire_async(name, weight=...)`, which blocks until the
units fit. Requests and tokens are two resources with different limits, so
two limiters: one request, then the call's tokens as the weight ("an item of
weight W consumes W unit-slots atomically").

The request's slot is taken before its tokens are waited for: when tokens
bind, the request log counts a send that has not happened yet, so the log is
ahead of the server's window (harmless: it only delays later sends). A 429
is retried on the bench's schedule, through both limiters again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

NAME = "lib_pyrate"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library limiter",
    summary="pyrate-limiter: a sliding-window Limiter for requests and one for tokens (weight)",
    explain=(
        "pyrate-limiter's default sliding-window log, one limiter per limit: a request "
        "waits for a request slot, then for its tokens as the acquire's weight, and goes. "
        "The log never admits more than the limit in any rolling minute, plus its 50 ms "
        "buffer."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="pyrate-limiter's code is a library's, not ours; the simulator runs only ours",
    api="openai",
    library="pyrate-limiter",
)


def library_calls(config: ClientConfig) -> Callable[[int], Awaitable[object]]:
    from pyrate_limiter import BucketAsyncWrapper, InMemoryBucket, Limiter, Rate

    from clients.infra.library_batch import minute, told

    rpm, tpm = told(NAME, config)
    interval = round(minute(config) * 1000)  # milliseconds, a minute at the time scale
    requests = Limiter(BucketAsyncWrapper(InMemoryBucket([Rate(rpm, interval)])))
    tokens = Limiter(BucketAsyncWrapper(InMemoryBucket([Rate(tpm, interval)])))

    async def acquire(charge: int) -> None:
        await requests.try_acquire_async("requests")
        await tokens.try_acquire_async("tokens", weight=charge)

    return acquire


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    import pyrate_limiter  # noqa: F401  (imported before the batch's clock starts)

    from clients.infra.library_batch import run_completions

    return run_completions(NAME, config, library_calls, on_line)
