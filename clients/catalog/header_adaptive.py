"""Client `header_adaptive`: told nothing, it learns the limits from the server's answers.

On either LLM API (`clients.infra.llm_api`), under the token bucket both
enforce by default, it keeps a copy of each bucket whose size it learns
(`clients.limiters.learned_buckets`): its first request goes alone, and
that answer's headers (`anthropic-ratelimit-*-limit`, `x-ratelimit-limit-*`)
name every limit; from then on it sends as `budget_window` does, no 429.
With the headers off it sends the batch at once and learns each limit from
the first 429 its body names, the copy charged with every send since the
start; the 429s stop once each limit has refused once.

Under a window (OpenAI only), it sends the whole batch at once; the first
answers (a 429's headers or its body, or an accepted request's
`x-ratelimit-limit-*`) name the requests and
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
    from clients.infra.llm_batch import ChatRequest, LimiterFor
    from clients.limiters.base import Limiter

NAME = "header_adaptive"
ATTEMPTS = 10
FALLBACK = 1.0  # scenario seconds of pause after a 429 that named no wait

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="header adaptive",
    summary="asyncio + aiohttp, limits learned from the rate-limit headers and 429 bodies",
    explain=(
        "Told nothing, it sends one request, learns every limit from its answer's headers "
        "and then keeps a copy of each of the server's buckets as budget_window does. With "
        "the headers off it sends the batch at once and learns each limit from the first "
        "429 whose body names it (its copy charged with everything sent so far), so its 429s "
        "come while it learns. Under a window it keeps a sliding log instead."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="the simulator has no model of learning the limits from answers",
    api="openai",
    also=("anthropic",),
)


def make_limiters(config: ClientConfig) -> LimiterFor:
    from clients.catalog.budget_window import BUDGET_MARGIN
    from clients.infra.llm_api import api_for

    api = api_for(config)
    window, fallback = config.scaled(MINUTE), config.scaled(FALLBACK)
    if config.server_strategy == "token-bucket" or api.name != "openai":
        from clients.limiters.learned_buckets import LearnedBuckets

        buckets = LearnedBuckets(api.limit_names, window, BUDGET_MARGIN, fallback)

        def in_buckets(request: ChatRequest) -> Limiter:
            costs = request.costs or (1,) + (0,) * (len(api.limit_names) - 1)
            return buckets.for_request(
                api.needs(costs, config),
                api.charged(costs, config),
                lambda reply: api.after(costs, reply, config),
            )

        return in_buckets

    from clients.limiters.header_adaptive import AdaptiveBudget

    shared = AdaptiveBudget(window, BUDGET_MARGIN, fallback)

    def limiter_for(request: ChatRequest) -> Limiter:
        return shared.for_request(request.charge or 0)

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.llm_batch import run_llm_batch

    # It waits what the server says, not a schedule: no sleep before a retry.
    mine = replace(config, attempts=max(config.attempts, ATTEMPTS), first_sleep=0.0)
    return run_llm_batch(NAME, mine, make_limiters, on_line)
