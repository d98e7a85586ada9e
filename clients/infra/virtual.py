"""A client of the OpenAI-compatible endpoint as theory runs it: in virtual time.

A catalog module may define `virtual_loops(config, charges, recorder, rng)`:
one generator of steps (`clients.infra.steps`) per request, which the
simulator (`bench.endpoints.openai.models`) drives against its model of the two
limits. A client whose policy is a limiter gives its own limiter and the
request loop (`limiter_loops`): the code that runs. A client whose retries
are a library's (the SDK's, tenacity's) gives that library's policy,
restated (`retrying`), since the library itself cannot run in virtual time.
`recorder.clock` is the virtual clock; `rng` is the simulation's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clients.config import ClientConfig
from clients.infra.attempts import Reply
from clients.infra.loop import request_loop
from clients.infra.recorder import Recorder
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Send, Sleep, Steps
from clients.limiters.base import Limiter

#: A limiter for a request of this charge (a client's `make_limiters`, bound).
LimiterFor = Callable[[int], Limiter]


def limiter_loops(
    limiter_for: LimiterFor, config: ClientConfig, charges: Sequence[int], recorder: Recorder
) -> list[Steps[object]]:
    """The request loop for every request, each through its limiter, with the
    retry policy of `config` (as `clients.infra.openai_batch` runs them)."""
    policy = RetryPolicy.from_config(config)
    return [
        request_loop(i, limiter_for(charge), policy, recorder, time_scale=config.time_scale)
        for i, charge in enumerate(charges)
    ]


def retrying(request: int, attempts: int, wait: Callable[[int, Reply], float]) -> Steps[object]:
    """A library's retries, restated: send until answered or `attempts` ran out,
    sleeping `wait(retry, reply)` (retry from 1) after each 429."""
    for attempt in range(attempts):
        reply = yield Send(request, attempt)
        assert isinstance(reply, Reply)
        if reply.outcome == "ok":
            return True
        if attempt + 1 < attempts:
            yield Sleep(wait(attempt + 1, reply))
    return False
