"""A client as theory runs it: its own request loops, in virtual time.

Every catalog module whose policy theory can run defines one hook,
`virtual_loops(batch) -> list[Steps]`: the generators of steps
(`clients.infra.steps`) that run its batch, in the order to start them.
Every endpoint's theory asks it the same way: it builds a `VirtualBatch`
on its simulator's clock, starts the generators in its `Simulation` and
answers their sends from its model of the server (`/chat`'s one limit in
`bench.theory.models`, the OpenAI-compatible endpoint's two in
`bench.endpoints.openai.models`). A client without the hook says why in its
spec's `no_model`.

A client whose policy is a limiter gives its own limiter and the request
loop (`batch_loops`, `limiter_loops`): the code that runs. A client whose
retries are a library's (the SDK's, tenacity's) gives that library's policy,
restated (`retrying`), since the library itself cannot run in virtual time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from clients.config import ClientConfig
from clients.infra.attempts import Reply
from clients.infra.loop import processes, request_loop
from clients.infra.recorder import Recorder
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Send, Sleep, Steps
from clients.limiters.base import Clock, Limiter
from clients.spec import Shape


@dataclass(frozen=True, slots=True)
class VirtualBatch:
    """One batch in virtual time, as an endpoint's theory hands it to a client.

    Seconds are the simulation's: `config.time_scale` of them per scenario
    second, as a real client's are wall seconds (`/chat`'s simulator counts
    scenario seconds, so its config has time scale 1; the OpenAI-compatible
    endpoint's counts wall seconds at the scenario's time scale).

    - `config`: the client's knobs.
    - `charges`: each request's charge as the server counts it (its length
      is the batch's size).
    - `recorder`: the request loop's recorder; `recorder.clock` is the
      virtual clock.
    - `rng`: the simulation's random source, for a policy that draws (jitter).
    - `server_clock`: the server's clock, what `time.time()` is to a client
      that follows the server's clock-aligned windows: the virtual clock plus
      where in such a window the batch started.
    - `limit`, `window`: the server's limit on requests, `limit` per `window`
      seconds, for a client that keeps it itself (the bench tells `/chat`'s
      clients it as their capacity and rate).
    - `margin`: the `clients.config.MARGIN` of wall time a client adds to a
      window at its edge, in the simulation's seconds.
    - `costs`: on an LLM endpoint, what each request draws on each of its
      limits, in the API's order (`clients.infra.llm_api`); () where a
      request has one charge.
    """

    config: ClientConfig
    charges: Sequence[int]
    recorder: Recorder
    rng: random.Random
    server_clock: Clock
    limit: int
    window: float
    margin: float
    costs: Sequence[tuple[int, ...]] = ()


class VirtualLoops(Protocol):
    """A catalog module's `virtual_loops`: the generators that run its batch."""

    def __call__(self, batch: VirtualBatch) -> list[Steps[object]]: ...


def batch_loops(
    batch: VirtualBatch, limiter: Limiter, shape: Shape = "tasks"
) -> list[Steps[object]]:
    """The request loop for every request through one `limiter`, in `shape`
    (`clients.infra.loop.processes`), with the retry policy of `batch.config`:
    as the asyncio and thread drivers run a `/chat` batch."""
    config, recorder = batch.config, batch.recorder
    policy = RetryPolicy.from_config(config)

    def loop(request: int) -> Steps[bool]:
        return request_loop(request, limiter, policy, recorder, time_scale=config.time_scale)

    return processes(shape, len(batch.charges), config.workers, loop)


#: A limiter for a request of this charge (a client's `make_limiters`, bound).
LimiterFor = Callable[[int], Limiter]


def limiter_loops(limiter_for: LimiterFor, batch: VirtualBatch) -> list[Steps[object]]:
    """The request loop for every request, each through its limiter, with the
    retry policy of `batch.config` (as `clients.infra.llm_batch` runs them)."""
    config = batch.config
    policy = RetryPolicy.from_config(config)
    return [
        request_loop(i, limiter_for(charge), policy, batch.recorder, time_scale=config.time_scale)
        for i, charge in enumerate(batch.charges)
    ]


def indexed_loops(
    limiter_for: Callable[[int], Limiter], batch: VirtualBatch
) -> list[Steps[object]]:
    """The request loop for every request, each through `limiter_for(index)`, with
    the retry policy of `batch.config`."""
    config = batch.config
    policy = RetryPolicy.from_config(config)
    return [
        request_loop(i, limiter_for(i), policy, batch.recorder, time_scale=config.time_scale)
        for i in range(len(batch.charges))
    ]


def retrying(request: int, attempts: int, wait: Callable[[int, Reply], float]) -> Steps[object]:
    """A library's retries, restated: send until answered, `attempts` ran out or the
    server said retrying cannot succeed (`Reply.final`), sleeping `wait(retry, reply)`
    (retry from 1) after each refusal."""
    for attempt in range(attempts):
        reply = yield Send(request, attempt)
        assert isinstance(reply, Reply)
        if reply.outcome == "ok":
            return True
        if attempt + 1 >= attempts or reply.final:
            return False
        yield Sleep(wait(attempt + 1, reply))
    return False
