"""Client `adaptive`: send greedily, and let the server's 429s say when to try again.

All requests go at t = 0 with asyncio + aiohttp. A 429 carries how long the
server's window stays shut (`X-RateLimit-Reset-After`, exact; else the RFC's
`Retry-After`, whole seconds); the client shuts a gate shared by every
request until then, plus a margin of 0.01 scenario seconds, so one 429
pauses everyone. Retries do not sleep a fixed schedule: they wait at the
gate and go the moment the window reopens.

The whole queue goes when the gate opens, so each window admits 2 and
rejects the rest: as many 429s as `naive_gather` (8 + 6 + 4 + 2), but one
window apart instead of 3, 6, 12 and 24 s. The last 2 requests use all 5
attempts; a bigger batch needs a bigger attempt budget. A 429 without
either header shuts the gate for the first retry sleep (3 s).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.limiters.reopen_gate import ReopenGate

NAME = "adaptive"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="reopen gate",
    summary="asyncio + aiohttp, greedy, waiting exactly until the server says the window reopens",
    explain=(
        "Sends greedily and lets each 429 say when to try again: the server's `X-RateLimit-"
        "Reset-After` shuts a gate shared by every request until the window reopens. As many "
        "429s as the naive client, but one window apart instead of a doubling backoff: the "
        "429s were never the cost, the fixed backoff was."
    ),
    paces=False,
    caps_in_flight=False,
    no_model=(
        "it waits for the server's X-RateLimit-Reset-After, which the server models do not announce"
    ),
)
MARGIN = 0.01  # scenario seconds added to the server's wait: timers and clocks are not exact


def make_limiter(config: ClientConfig) -> ReopenGate:
    """The gate: every 429 it observes shuts it for the wait the server announced."""
    from clients.limiters.reopen_gate import ReopenGate

    return ReopenGate(margin=config.scaled(MARGIN), fallback=config.scaled(config.first_sleep))


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.async_batch import run_async_batch

    gate = make_limiter(config)
    # The gate does all the waiting: no fixed sleep between attempts.
    no_sleep = dataclasses.replace(config, first_sleep=0.0)
    return run_async_batch(NAME, no_sleep, lambda _config: gate, on_line)
