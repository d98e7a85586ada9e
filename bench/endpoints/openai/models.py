"""Theory's models of the clients of the OpenAI-compatible endpoint, in virtual time.

`bench.theory.simulate` runs the clients' own request loops and limiters against
a model of `/chat`'s one limit. Here the same driver runs against a model of
the endpoint's two limits, each request with its own charge and its own
latency draw (`mock_server.llm_latency.draw`, the server's function):

- **the server**: limits' fixed window on both limits at once (the
  endpoint's default, `mock_server.limits`): a window opens at the
  first request admitted after the last one closed and lasts a minute; a
  request is admitted if the window holds fewer than RPM requests and its
  charge fits in what is left of the TPM; a refused request counts in
  neither, and is told how long until the window closes (`retry-after-ms`).
  Or the token bucket (`--strategy token-bucket`): the server's own
  `TwoBuckets` on the simulation's clock, a request charged in both buckets
  or in neither, a refused one told what the server's `retry-after-ms`
  says (until its charge fits, to the millisecond, plus one).
- **the clients**: what each client's own `virtual_loops` gives
  (`clients.infra.virtual`), the hook `/chat`'s theory runs too: its
  limiter and the request loop where its policy is a limiter
  (budget_window, cookbook_parallel), the library's retry policy restated
  where it is a library's (the SDK's, tenacity's).

A client without `virtual_loops` has no model here (header_adaptive: it
learns the limits from the answers' headers and bodies, which this model of
the server does not write), and neither has a program run by `--command`
(`bench.theory.models.model_for`).

The simulation runs in wall seconds at the scenario's time scale, because
the clients' margins are wall time (budget_window's 100 ms), and reports
scenario seconds, like every measurement. Only the fixed window and the
token bucket are modelled; on the other strategies the bench says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bench.endpoints.openai.bound import Buckets, Planned, Windows
from bench.theory.llm_runs import (
    JITTER,
    OVERSHOOT,
    REFUSED_BACK,
    DecidesItself,
    LLMPrediction,
    SimRun,
    drawn_per_request,
    simulated_run,
    summarise,
)
from bench.theory.models import Unrecorded
from bench.theory.simulate import OK, Simulation
from clients.config import MARGIN, ClientConfig
from clients.infra.attempts import Reply
from clients.infra.steps import Send
from clients.infra.virtual import VirtualBatch
from mock_server.endpoints.openai.errors import retry_after_ms
from mock_server.endpoints.openai.settings import DEFAULTS
from mock_server.llm_latency import draw
from mock_server.token_bucket import MemoryBuckets, TwoBuckets

# The start of the server's 429 messages (`mock_server.endpoints.openai.errors`),
# which clients may read.
RATE_LIMITED, TOO_LARGE = "Rate limit reached", "Request too large"
# The fixed window and the bucket: the other strategies' windows are not modelled here.
MODELLED_STRATEGIES = ("fixed-window", "token-bucket")


class TwoLimitServer(Protocol):
    """The endpoint's two limits as the simulation asks them, in its seconds."""

    def admit(self, at: float, charge: int) -> float | None:
        """None if a request of `charge` arriving at `at` is admitted, else the
        seconds its 429 says to wait (inf: never, it is too large)."""
        ...

    def told(self) -> tuple[int, float]:
        """The limit on requests as a client that keeps it is told: so many per so
        many seconds (`VirtualBatch.limit`, `window`)."""
        ...


@dataclass(slots=True)
class TwoLimitWindow:
    """The endpoint's fixed window on both limits, in the simulation's seconds."""

    limits: Windows
    opened: float = -math.inf
    count: int = 0
    used: int = 0

    def told(self) -> tuple[int, float]:
        return self.limits.requests, self.limits.window

    def admit(self, at: float, charge: int) -> float | None:
        """None if a request of `charge` arriving at `at` is admitted, else the
        seconds until it would fit (inf: never, it is too large)."""
        if charge > self.limits.tokens:
            return math.inf
        if at >= self.opened + self.limits.window:  # expired: the next admission opens one
            self.opened, self.count, self.used = at, 0, 0
        if self.count < self.limits.requests and self.used + charge <= self.limits.tokens:
            self.count += 1
            self.used += charge
            return None
        return self.opened + self.limits.window - at


class TwoLimitBuckets:
    """The endpoint's two token buckets: the server's own `TwoBuckets` in memory,
    on the simulation's clock (`buckets`' rates in units of its seconds)."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets
        self.now = 0.0
        self.two = TwoBuckets(
            MemoryBuckets(), buckets.requests, buckets.tokens, clock=lambda: self.now
        )

    def __repr__(self) -> str:
        return f"<TwoLimitBuckets {self.two!r}>"

    def admit(self, at: float, charge: int) -> float | None:
        self.now = at
        decision = self.two.admit(charge)
        if decision.accepted:
            return None
        if decision.retry_after is None:
            return math.inf
        # What the client reads: retry-after-ms, rounded up plus one.
        return retry_after_ms(decision.retry_after) / 1000

    def told(self) -> tuple[int, float]:
        requests = self.buckets.requests
        return requests.capacity, requests.capacity / requests.rate


class TwoLimitSimulation(Simulation):
    """`Simulation` against a `TwoLimitServer`: each send charged its request's
    charge, each admitted one drawn its latency as the server draws it."""

    def __init__(
        self, server: TwoLimitServer, planned: Sequence[Planned], rng: random.Random, scale: float
    ) -> None:
        super().__init__(
            DecidesItself(), drawn_per_request, rng, overshoot=OVERSHOOT, jitter=JITTER
        )
        self.two = server
        self.planned = planned
        self.scale = scale

    def batch(self, config: ClientConfig) -> VirtualBatch:
        """What a client's `virtual_loops` is given for this batch (`config` at the
        simulation's time scale)."""
        limit, window = self.two.told()
        return VirtualBatch(
            config=config,
            charges=[r.charge for r in self.planned],
            recorder=Unrecorded("model", len(self.planned), clock=self.clock),
            rng=self.rng,
            # Neither the fixed window nor the bucket is aligned to a clock.
            server_clock=self.clock,
            limit=limit,
            window=window,
            # Wall time, and the simulation counts wall seconds.
            margin=MARGIN,
        )

    def decide(self, send: Send) -> tuple[Reply, float]:
        request = self.planned[send.request]
        wait = self.two.admit(self.now, request.charge)
        if wait is None:
            d = draw(self.rng, DEFAULTS.ttft, DEFAULTS.token_time, request.max_tokens)
            return OK, d.duration * self.scale
        back = self.rng.uniform(*REFUSED_BACK)
        if math.isinf(wait):
            return Reply(429, "rate_limited", detail=TOO_LARGE), back
        return Reply(429, "rate_limited", detail=RATE_LIMITED, reopens_in=wait), back


# -- runs and their summary ---------------------------------------------------------


def wall_server(limits: Windows | Buckets, scale: float) -> TwoLimitServer:
    """The server's two limits (scenario seconds) in wall seconds at time scale
    `scale`: windows, or buckets."""
    if isinstance(limits, Buckets):
        return TwoLimitBuckets(limits.scaled(scale))
    return TwoLimitWindow(Windows(limits.requests, limits.tokens, limits.window * scale))


def simulate_run(
    client: str,
    planned: Sequence[Planned],
    limits: Windows | Buckets,
    config: ClientConfig,
    rng: random.Random,
) -> SimRun:
    """One batch of `client` against the two limits (windows or buckets, in
    scenario seconds)."""
    scale = config.time_scale
    sim = TwoLimitSimulation(wall_server(limits, scale), planned, rng, scale)
    return simulated_run(client, sim, sim.batch(config), len(planned), scale)


def predict_two_limit(
    client: str,
    planned: Sequence[Planned],
    limits: Windows | Buckets,
    config: ClientConfig,
    runs: int,
    seed: int = 0,
) -> LLMPrediction:
    """`runs` simulated batches of `client` (one with `virtual_loops`), summarised."""
    rng = random.Random(f"ratebench-two-limit:{client}:{seed}")
    done = [simulate_run(client, planned, limits, config, rng) for _ in range(runs)]
    return summarise(client, len(planned), done)
