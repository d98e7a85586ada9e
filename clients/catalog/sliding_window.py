"""Client `sliding_window`: asyncio.gather + aiohttp + at most L sends in any T.

The best a client can do without ever breaking "L per T" is L sends at
t = 0, T, 2T, ... (the bound). This client gets there: a sliding log of its
send times (`clients.limiters.sliding_log`) lets a send go as soon as fewer than L of
the last sends lie in the trailing T + m seconds. L is `config.capacity`,
T is `capacity / rate` (1 s for the write-up's 2 per second), scaled by the
time scale like every other duration.

Why a log and not GCRA or a token bucket "with burst L": a bucket of
capacity L refilled at L/T lets L go at once and the next one T/L later,
up to 2L - 1 in one window; only a log of the last L sends says "L in any
T" exactly.

The margin m absorbs the time between the client's send (the reading taken
just before aiohttp is handed the request) and the server limiter's
decision, which limits' windows are measured from: the fixed window opens
at its first hit's decision, so if that hit took longer from send to
decision than the hit one window later, the later one would land inside it.
The gap is the machine's (connection set-up, uvicorn, slowapi), not the
scenario's, so the margin is in wall seconds and is not scaled:
`clients.config.MARGIN`, which theory's scenario takes as well. How it was
measured, and what it costs against the bound, is in the README ("The
sliding window's margin").

Against limits' sliding-window counter "L in any T" is not enough (see
`clients.limiters.sliding_log`): after L hits early in one clock-aligned window the
counter still rejects hits in the next one until it is well under way, so a
plain log is rejected in about half the runs. When told the server uses the
counter (`config.server_strategy`, as an API's documentation would say
which algorithm it runs), the client keeps the counter's own rule as well,
on the same clock (time.time()) and window alignment the server uses.
Pacing evenly, or keeping the counter's rule for every possible alignment,
would not need the server's clock, but both cost more (the README gives the
figures). It relies on the client's and the server's time.time() agreeing
to within the margin: true on one machine, and to a few milliseconds
between machines that keep time with NTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import MARGIN, ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch
    from clients.limiters.sliding_log import SlidingLogLimiter

NAME = "sliding_window"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="sliding log",
    summary="asyncio + aiohttp + at most L sends in any T + margin",
    explain=(
        "Keeps a log of its own send times and lets a send go as soon as fewer than L of them"
        " lie in the trailing window plus a small margin for the trip to the server: L sends "
        "at t = 0, T, 2T, ..., the best schedule there is. Told that the server runs a "
        "sliding-window counter, it keeps the counter's rule too."
    ),
    paces=True,
    caps_in_flight=False,
)


def make_limiter(config: ClientConfig) -> SlidingLogLimiter:
    """The limiter for `config`; ConfigError if the scaled window is not above the margin."""
    from clients.limiters.sliding_log import SlidingLog, SlidingLogLimiter

    window = config.scaled(config.capacity / config.rate)
    if window <= MARGIN:
        raise ConfigError(
            f"sliding_window needs a window longer than its {MARGIN * 1e3:g} ms margin, "
            f"got {window * 1e3:g} ms (capacity / rate x time scale): "
            f"HINT: use a time scale of at least {2 * MARGIN * config.rate / config.capacity:g}"
        )
    log = SlidingLog(
        config.capacity,
        window,
        MARGIN,
        counter=config.server_strategy == "sliding-window-counter",
    )
    return SlidingLogLimiter(log)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch

    return run_async_batch(NAME, config, make_limiter, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its sliding log, keeping the
    server's L per T (which the bench tells it as capacity and rate) plus the
    margin; told the server runs the sliding-window counter, the counter's rule
    too, on the server's clock."""
    from clients.infra.virtual import batch_loops
    from clients.limiters.sliding_log import SlidingLog, SlidingLogLimiter

    counter = batch.config.server_strategy == "sliding-window-counter"
    log = SlidingLog(batch.limit, batch.window, batch.margin, counter=counter)
    clock = batch.server_clock if counter else batch.recorder.clock
    return batch_loops(batch, SlidingLogLimiter(log, clock=clock))
