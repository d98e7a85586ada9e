"""Client `gemini_retryinfo`: told nothing, it learns Gemini's quotas from 429 bodies alone.

Gemini sends no rate-limit headers. It sends the whole batch at once; the
first 429s name the quota they hit (`QuotaFailure`'s `quotaId`) and the wait
(`RetryInfo`'s `retryDelay`, and the message's finer "retry in"), and it
keeps `header_adaptive`'s budget (`clients.limiters.header_adaptive`: a log
of sends with their charges, and a pause every send waits out), taught by
those bodies (`clients.limiters.retry_info`): a per-minute refusal pauses
every send for the wait it names and sets the minute's limit to what the
log held before the refused send; a per-day refusal pauses every send until
the next day opens, says so, and the first send of the new day says how
long the batch waited. A refused request retries as soon as the pause and
the log let it (no sleep of its own), up to ten attempts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec
from mock_server.vocabulary import MINUTE

if TYPE_CHECKING:
    from clients.infra.gemini_batch import GeminiLimiterFor
    from clients.infra.gemini_request_set import GeminiRequest
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch
    from clients.limiters.base import Clock, Limiter
    from clients.limiters.retry_info import Say

NAME = "gemini_retryinfo"
ATTEMPTS = 10
FALLBACK = 1.0  # scenario seconds of pause after a 429 that named no wait

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="retry info",
    summary="asyncio + aiohttp, quotas learned from 429s' QuotaFailure and RetryInfo",
    explain=(
        "Told nothing, it sends the batch at once and learns from the 429s: a minute's "
        "refusal pauses every send for the RetryInfo wait and sets the minute's limit to what "
        "it had sent; a day's refusal stops every send until the next day opens, which the "
        "wait names. Its 429s come in the first minute and once a day."
    ),
    paces=True,
    caps_in_flight=False,
    api="gemini",
)


def _quiet(text: str) -> None:
    pass


def make_limiters(
    config: ClientConfig, clock: Clock | None = None, say: Say = _quiet
) -> GeminiLimiterFor:
    """Each request's limiter over one learning budget; `say` hears what it learns."""
    import time

    from clients.catalog.budget_window import BUDGET_MARGIN
    from clients.infra.gemini_request_set import prompt_tokens
    from clients.limiters.retry_info import RetryInfoBudget

    shared = RetryInfoBudget(
        config.scaled(MINUTE),
        BUDGET_MARGIN,
        config.scaled(FALLBACK),
        scale=config.time_scale,
        say=say,
        clock=clock or time.monotonic,
    )

    def limiter_for(request: GeminiRequest) -> Limiter:
        charge = request.charge if request.charge is not None else prompt_tokens(request.body)
        return shared.for_request(charge)

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.gemini_batch import run_gemini_batch

    # It waits what the server says, not a schedule: no sleep before a retry.
    mine = replace(config, attempts=max(config.attempts, ATTEMPTS), first_sleep=0.0)
    say = on_line or _quiet
    return run_gemini_batch(NAME, mine, lambda c: make_limiters(c, say=say), on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it: its own learning budget on the virtual clock, taught by the
    model's 429s (which name their quotas and waits as the server's do)."""
    from clients.infra.gemini_request_set import GeminiRequest
    from clients.infra.virtual import limiter_loops

    config = replace(batch.config, attempts=max(batch.config.attempts, ATTEMPTS), first_sleep=0.0)
    limiter_for = make_limiters(config, batch.recorder.clock)
    mine = replace(batch, config=config)
    return limiter_loops(lambda charge: limiter_for(GeminiRequest(0, "", {}, charge)), mine)
