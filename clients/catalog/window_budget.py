"""Client `window_budget`: told the limits, it keeps a window's rule: at most L of each
in any minute.

The rule a client built for windows keeps (`budget_window`'s under
OpenAI's windows), over every limit of the API (`clients.infra.llm_api`):
a sliding log of its sends with their costs, a send going once the trailing
minute plus a 100 ms margin has room for its costs in every limit
(`clients.limiters.window_budget`). It is here for contrast under the token
buckets both LLM APIs enforce: it is never refused, but it never spends a
bucket's starting fill on top of the minute's refill, so where a limit
binds it ends about a minute after the bound.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec
from mock_server.vocabulary import MINUTE

if TYPE_CHECKING:
    from clients.infra.llm_batch import ChatRequest, LimiterFor
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch
    from clients.limiters.base import Clock, Limiter

NAME = "window_budget"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="budget window",
    summary="asyncio + aiohttp + at most L of each limit in any minute (a window's rule)",
    explain=(
        "Told the limits, it keeps a sliding log of its sends with their costs and sends, in "
        "file order, once the trailing minute has room for the request in every limit: the "
        "rule of a client built for windows. Under token buckets it is never refused but "
        "never spends a bucket's starting fill on top of the refill, so where a limit binds "
        "it ends about a minute after the bound."
    ),
    paces=True,
    caps_in_flight=False,
    api="anthropic",
)


def make_limiters(config: ClientConfig, clock: Clock | None = None) -> LimiterFor:
    """Each request's limiter over one log; ConfigError if not told every limit."""
    from clients.catalog.budget_window import BUDGET_MARGIN
    from clients.infra.llm_api import api_for
    from clients.limiters.window_budget import WindowBudget

    api = api_for(config)
    told = api.told(config)
    if any(amount is None for amount in told):
        raise ConfigError(f"{NAME} must be told the limits: set rpm, itpm, otpm")
    shared = WindowBudget(told, config.scaled(MINUTE), BUDGET_MARGIN, clock=clock or time.monotonic)

    def limiter_for(request: ChatRequest) -> Limiter:
        costs = request.costs
        if costs is None:
            raise ConfigError(
                f"{NAME} plans with each request's costs: request {request.index} has no "
                "metadata saying them (write the set with `python -m bench requests`)"
            )
        return shared.for_request(
            api.needs(costs, config),
            api.charged(costs, config),
            lambda reply: api.after(costs, reply, config),
        )

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.llm_batch import run_llm_batch

    return run_llm_batch(NAME, config, make_limiters, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it: its own limiter, on the virtual clock."""
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.virtual import indexed_loops

    limiter_for = make_limiters(batch.config, batch.recorder.clock)
    return indexed_loops(
        lambda i: limiter_for(ChatRequest(i, {}, None, tuple(batch.costs[i]))), batch
    )
