"""Client `budget_window`: asyncio + aiohttp + at most RPM sends and TPM tokens in any minute.

Told the endpoint's two limits (`config.rpm`, `config.tpm`, as an API's
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
    from clients.infra.openai_batch import ChatRequest, LimiterFor
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch
    from clients.limiters.base import Clock, Limiter

NAME = "budget_window"
BUDGET_MARGIN = 0.100  # wall seconds; see the module

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="budget window",
    summary="asyncio + aiohttp + at most RPM sends and TPM tokens in any minute + margin",
    explain=(
        "Told the requests and tokens per minute, it logs each send with its charge (prompt "
        "tokens plus max_tokens, as the server counts it) and sends, in file order, as soon as "
        "the trailing minute has room for one more request and for that charge. That is the "
        "two-limit bound's schedule, a margin later per window, and no 429."
    ),
    paces=True,
    caps_in_flight=False,
    api="openai",
)


def make_limiters(config: ClientConfig, clock: Clock | None = None) -> LimiterFor:
    """Each request's limiter, over one shared log; ConfigError if not told both limits.
    `clock`: the limiter's clock (theory's virtual one); by default the real one."""
    from clients.limiters.budget_window import BudgetLog, BudgetWindowLimiter

    if config.rpm is None or config.tpm is None:
        raise ConfigError(f"{NAME} must be told the limits: set rpm and tpm")
    window = config.scaled(MINUTE)
    if window <= 10 * BUDGET_MARGIN:
        raise ConfigError(
            f"{NAME} needs a minute longer than ten times its {BUDGET_MARGIN * 1e3:g} ms margin, "
            f"got {window:g} s: use a time scale of at least {10 * BUDGET_MARGIN / MINUTE:.3f}"
        )
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
    from clients.infra.openai_batch import run_openai_batch

    return run_openai_batch(NAME, config, make_limiters, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its own limiter, on the virtual clock."""
    from clients.infra.openai_batch import ChatRequest
    from clients.infra.virtual import limiter_loops

    limiter_for = make_limiters(batch.config, batch.recorder.clock)
    return limiter_loops(lambda charge: limiter_for(ChatRequest(0, {}, charge)), batch)
