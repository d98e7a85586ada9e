"""Client `cookbook_parallel`: the OpenAI cookbook's parallel request processor.

Written here from what `api_request_parallel_processor.py` (openai/openai-cookbook,
examples/) does, line by line (`clients.limiters.cookbook_bucket`): told the
requests and tokens per minute, it starts with a minute's worth of each and
refills them continuously; one loop, turning every 1 ms, sends the request
in its slot when both capacities hold it (its tokens estimated before
sending: the request set's charge, which is the processor's own estimate,
prompt plus max_tokens); a request that comes back with any error is put
straight back in the retry queue, which goes before every request not yet
read, five sends in all; an error whose message says "rate limit" pauses
the loop for 15 s, and retry-after is never read.

After the first minute's burst, the continuous refill trickles sends into
a window the server still counts as full; each 429 costs everyone 15 s, the
refill saved meanwhile goes at once when the pause ends, and the refused
request is the first to go again, so it can spend its five sends in a few
pauses and be lost.
"""

from __future__ import annotations

from dataclasses import replace
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

NAME = "cookbook_parallel"
ATTEMPTS = 5  # max_attempts

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="cookbook parallel",
    summary=(
        "the cookbook's parallel processor: continuous refill, a refused request first "
        "again, 15 s pause after a 429"
    ),
    explain=(
        "Starts with a minute's budget of requests and tokens and refills it continuously, "
        "so after the first burst it trickles sends into a window the server still counts as "
        "full. Every 429 stops its loop for 15 s and puts the refused request first in line, "
        "five sends in all: after each pause the saved refill goes at once, the same request "
        "is refused again before the window closes, and the pauses, not the limits, set its "
        "pace; a request refused in five pauses is lost."
    ),
    paces=True,
    caps_in_flight=False,
    api="openai",
)


def make_limiters(config: ClientConfig, clock: Clock | None = None) -> LimiterFor:
    """Each request's limiter, over one shared budget; `clock`: theory's virtual one,
    by default the real one."""
    import time

    from clients.limiters.cookbook_bucket import COOLDOWN, LOOP, CookbookBudget

    if config.rpm is None or config.tpm is None:
        raise ConfigError(f"{NAME} must be told the limits: set rpm and tpm")
    shared = CookbookBudget(
        config.rpm,
        config.tpm,
        config.scaled(MINUTE),
        config.scaled(COOLDOWN),
        config.scaled(LOOP),
        clock=clock or time.monotonic,
    )

    def limiter_for(request: ChatRequest) -> Limiter:
        return shared.for_request(request.charge or 0)

    return limiter_for


def own_config(config: ClientConfig) -> ClientConfig:
    """The processor's retries: requeued at once (no sleep before a retry), five attempts."""
    return replace(config, attempts=ATTEMPTS, first_sleep=0.0)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.llm_batch import run_llm_batch

    return run_llm_batch(NAME, own_config(config), make_limiters, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its own limiter, on the virtual clock."""
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.virtual import limiter_loops

    mine = replace(batch, config=own_config(batch.config))
    limiter_for = make_limiters(mine.config, batch.recorder.clock)
    return limiter_loops(lambda charge: limiter_for(ChatRequest(0, {}, charge)), mine)
