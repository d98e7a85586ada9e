"""Client `header_adaptive`: told nothing, it learns both limits from the server's answers.

It sends the whole batch at once; the first answers (a 429's headers or its
body, or an accepted request's `x-ratelimit-limit-*`) name the requests and
tokens per minute, and from then on it keeps them in a sliding log with its
charges, as `budget_window` does (`clients.limiters.header_adaptive`). A
429 pauses every send until the wait the server named: `retry-after-ms`, or,
with the headers switched off, the body's "Please try again in 5.95s".
A refused request retries as soon as the pause and the log let it (no
sleep of its own), up to ten attempts. The charge of each request is the
request set's `metadata.charge`, as the cookbook's processor estimates it.
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
    from clients.infra.openai_batch import ChatRequest, LimiterFor
    from clients.limiters.base import Limiter

NAME = "header_adaptive"
ATTEMPTS = 10
FALLBACK = 1.0  # scenario seconds of pause after a 429 that named no wait

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="header adaptive",
    summary="asyncio + aiohttp, limits learned from x-ratelimit-* headers and 429 bodies",
    explain=(
        "Told nothing, it sends the batch at once, learns the requests and tokens per minute "
        "from the first answers (headers, or the 429 body's 'Limit L' when headers are off) "
        "and pauses for the wait a 429 names; from then on it keeps both limits in a sliding "
        "log like budget_window. Its 429s come in the first window."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="the simulator has no model of learning the limits from answers",
    api="openai",
)


def make_limiters(config: ClientConfig) -> LimiterFor:
    from clients.catalog.budget_window import BUDGET_MARGIN
    from clients.limiters.header_adaptive import AdaptiveBudget

    shared = AdaptiveBudget(config.scaled(MINUTE), BUDGET_MARGIN, config.scaled(FALLBACK))

    def limiter_for(request: ChatRequest) -> Limiter:
        return shared.for_request(request.charge or 0)

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.openai_batch import run_openai_batch

    # It waits what the server says, not a schedule: no sleep before a retry.
    mine = replace(config, attempts=max(config.attempts, ATTEMPTS), first_sleep=0.0)
    return run_openai_batch(NAME, mine, make_limiters, on_line)
