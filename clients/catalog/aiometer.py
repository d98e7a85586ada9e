"""Client `aiometer`: aiohttp requests started by `aiometer.run_all(max_per_second=2)`.

aiometer meters when each request's job *starts* (GCRA: one start every
1/rate = 0.5 s, the first at t = 0), not each attempt: a job's retries go
unmetered. With no burst and evenly spaced starts, at most 2 sends fall in
any window anchored at a send; a start timer that wakes late pushes every
later start back with it, which keeps the sends clear of the fixed
window's edges.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.async_batch import Job

NAME = "aiometer"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="paced starts",
    summary="aiohttp requests started by aiometer.run_all(max_per_second=rate)",
    explain=(
        "aiometer meters when each request's job starts (one every 1/rate, the first at t = "
        "0), not each attempt: a job's retries go unmetered. Evenly spaced starts keep at "
        "most L sends in a window anchored at a send."
    ),
    paces=True,
    caps_in_flight=False,
    no_model=(
        "aiometer meters job starts inside its own scheduler, which the simulator does not model"
    ),
    library="aiometer",
)


async def _run_all(jobs: Sequence[Job], *, max_per_second: float) -> object:
    import aiometer

    from clients.limiters.start_meter import stamped

    return await aiometer.run_all(
        [functools.partial(stamped, job) for job in jobs], max_per_second=max_per_second
    )


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    # Imported before the batch's clock starts: aiometer and anyio's asyncio
    # backend (which anyio imports on first use) take tens of ms to import,
    # which would count as the first start's delay.
    import aiometer  # noqa: F401
    import anyio._backends._asyncio  # noqa: F401

    from clients.infra.async_batch import run_async_batch
    from clients.limiters.start_meter import StartMeter

    # max_per_second counts wall seconds: the scenario's rate over the time scale.
    run_all = functools.partial(_run_all, max_per_second=config.rate / config.time_scale)
    return run_async_batch(NAME, config, lambda _config: StartMeter(), on_line, run_all=run_all)
