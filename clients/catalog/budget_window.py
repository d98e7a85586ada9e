"""Client `budget_window`: asyncio + aiohttp + the told limits kept on the client's side.

On either LLM API (`clients.infra.llm_api`: OpenAI's requests and tokens,
Anthropic's requests, input and output tokens), under the token bucket
both now enforce by default, it keeps a copy of each of the server's
buckets (`clients.limiters.bucket_budget`): it spends the starting fill,
then the refill, each request in file order at the first instant every
copy holds its costs plus 100 ms of refill. That is the earliest schedule,
the bound. Anthropic's output tokens counted as produced: it reserves
`max_tokens` and takes back what the answer's usage shows was not produced.

Under a window (`--strategy fixed-window` and the others, OpenAI only), told
the endpoint's two limits (`config.rpm`, `config.tpm`, as an API's
documentation states them), it keeps one log of its sends with their
charges (`clients.limiters.budget_window`) and lets each request go as soon
as the trailing minute plus a margin has room for one more request and for
its charge. The charge is the request set's `metadata.charge`, which is the
server's own estimate (prompt tokens plus `max_tokens`), so it never
guesses low. Requests go in file order: window after window, as many as
both limits allow, which is the schedule of the two-limit bound
(`bench.endpoints.openai.bound`); each window costs the margin on top.

The margin absorbs the gap between the client's send and the server's
decision, in wall seconds (the machine's, not the scenario's). `/chat`'s
20 ms (`clients.config.MARGIN`) is too little here: the first window's
sends each open a connection and POST a body, while a window later they
reuse the open connections, so the first hit is decided later after its
send than the hits that follow. Measured on a busy 2-core machine: a first
decision 40 ms after its send, and a send 6 s (a minute at time scale 0.1)
after the first one decided 15 ms before that window closed (3 × 429 in a
run). `BUDGET_MARGIN` is 100 ms: at time scale 0.1 it costs 1.7 % of each
window, at full scale 0.2 %. A refused send is taken back out of the log,
as the server counts it in neither limit, so a rare 429 costs a retry, not
a window. A minute is scaled by the time scale like every window. Told that the
server runs limits' sliding-window counter, it keeps the counter's rule for
both limits too, on the server's clock (see `clients.limiters.budget_window`).
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

NAME = "budget_window"
BUDGET_MARGIN = 0.100  # wall seconds; see the module

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="budget window",
    summary="asyncio + aiohttp + the told limits kept: a copy of each bucket (or window) + margin",
    explain=(
        "Told the limits, it keeps a copy of each of the server's token buckets (requests and "
        "tokens; Anthropic's requests, input and output tokens) and sends, in file order, at "
        "the first instant every copy holds the request's costs as the server counts them: "
        "the starting fill at once, then the refill. That is the bound's schedule, a 100 ms "
        "margin later, and no 429. Under a window it keeps a sliding log of sends and "
        "charges instead."
    ),
    paces=True,
    caps_in_flight=False,
    api="openai",
    also=("anthropic",),
)


def make_limiters(config: ClientConfig, clock: Clock | None = None) -> LimiterFor:
    """Each request's limiter, over one shared budget; ConfigError if not told every
    limit. `clock`: the limiter's clock (theory's virtual one); by default the real one."""
    from clients.infra.llm_api import api_for

    api = api_for(config)
    told = api.told(config)
    if any(amount is None for amount in told):
        flags = ", ".join(("rpm", "tpm") if api.name == "openai" else ("rpm", "itpm", "otpm"))
        raise ConfigError(f"{NAME} must be told the limits: set {flags}")
    window = config.scaled(MINUTE)
    if window <= 10 * BUDGET_MARGIN:
        raise ConfigError(
            f"{NAME} needs a minute longer than ten times its {BUDGET_MARGIN * 1e3:g} ms margin, "
            f"got {window:g} s: use a time scale of at least {10 * BUDGET_MARGIN / MINUTE:.3f}"
        )
    if config.server_strategy == "token-bucket" or api.name != "openai":
        return _bucket_limiters(config, told, window, clock)
    return _window_limiters(config, window, clock)


def _bucket_limiters(
    config: ClientConfig, told: tuple[int | None, ...], window: float, clock: Clock | None
) -> LimiterFor:
    from clients.infra.llm_api import api_for
    from clients.limiters.bucket_budget import BucketBudget

    api = api_for(config)
    shared = BucketBudget(told, window, BUDGET_MARGIN, clock=clock or time.monotonic)

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


def _window_limiters(config: ClientConfig, window: float, clock: Clock | None) -> LimiterFor:
    from clients.limiters.budget_window import BudgetLog, BudgetWindowLimiter

    assert config.rpm is not None
    assert config.tpm is not None
    counter = config.server_strategy == "sliding-window-counter"
    log = BudgetLog(config.rpm, config.tpm, window, BUDGET_MARGIN, counter=counter)
    # The counter's windows are aligned on the server's clock, which limits reads.
    if clock is None:
        clock = time.time if counter else time.monotonic
    shared = BudgetWindowLimiter(log, clock=clock)

    def limiter_for(request: ChatRequest) -> Limiter:
        if request.charge is None:
            raise ConfigError(
                f"{NAME} plans with each request's charge: request {request.index} has no "
                "metadata.charge (write the set with `python -m bench requests`)"
            )
        return shared.for_request(request.charge)

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.llm_batch import run_llm_batch

    return run_llm_batch(NAME, config, make_limiters, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its own limiter, on the virtual clock."""
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.virtual import indexed_loops

    limiter_for = make_limiters(batch.config, batch.recorder.clock)
    costs = batch.costs or [(1, charge) for charge in batch.charges]
    return indexed_loops(
        lambda i: limiter_for(ChatRequest(i, {}, batch.charges[i], tuple(costs[i]))), batch
    )
