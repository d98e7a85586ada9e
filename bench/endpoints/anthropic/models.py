"""Theory's models of the clients of Anthropic's Messages endpoint, in virtual time.

The same driver as the OpenAI-compatible endpoint's
(`bench.endpoints.openai.models`), against a model of the three buckets:

- **the server**: three buckets of the server's arithmetic
  (`mock_server.token_bucket.Bucket`), full at the start; a request is
  admitted if the requests bucket holds one, the input bucket its input
  tokens and the output bucket its `max_tokens` (`--otpm-charge
  max-tokens`, charged at once) or one token (`produced`: its drawn output
  charged when its answer ends, which the model applies before every later
  decision); a refused request costs nothing and is told the server's
  `retry-after` (the wait until it fits, whole scenario seconds rounded up),
  or nothing with the headers off. Each admitted request draws its latency
  and output as the server does (`mock_server.llm_latency.draw`), and its
  answer carries `usage.output_tokens`, which a client that reserves
  `max_tokens` reads to take back what was not produced.
- **the clients**: each one's own `virtual_loops` (`clients.infra.virtual`)
  on a `VirtualBatch` whose `costs` are each request's (1, input tokens,
  max_tokens), the API's order (`clients.infra.llm_api`).

Seconds are wall seconds at the scenario's time scale, as the clients'
margins are; the summary reports scenario seconds.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence

from bench.endpoints.anthropic.bound import Planned
from bench.endpoints.anthropic.limits import AnthropicLimits
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
from bench.theory.simulate import Simulation
from clients.config import MARGIN, ClientConfig
from clients.infra.attempts import Reply
from clients.infra.steps import Send
from clients.infra.virtual import VirtualBatch
from mock_server.llm_latency import draw
from mock_server.vocabulary import Latency

TTFT, TOKEN_TIME = Latency(0.2, 0.8), 0.01  # the endpoint's latency defaults


class ThreeBucketServer:
    """The three buckets in the simulation's seconds (wall seconds at `scale`)."""

    def __init__(self, limits: AnthropicLimits, scale: float, headers: bool = True) -> None:
        self.limits = limits
        self.scale = scale
        self.headers = headers
        self.buckets = limits.buckets(scale)
        self.full_at = [0.0, 0.0, 0.0]
        self.pending: list[tuple[float, int]] = []  # produced output, charged at its time

    def __repr__(self) -> str:
        return f"<ThreeBucketServer {self.limits.words()} full_at={self.full_at}>"

    def _settle(self, now: float) -> None:
        output = self.buckets[2]
        while self.pending and self.pending[0][0] <= now:
            at, produced = heapq.heappop(self.pending)
            self.full_at[2] = output.charged(self.full_at[2], at, produced)

    def admit(self, now: float, planned: Planned) -> float | None:
        """None if admitted now (and charged), else the wall seconds its 429 says to
        wait (None said: math.nan; never: inf)."""
        self._settle(now)
        at_start = self.limits.at_start
        needs = (1, planned.input_tokens, planned.max_tokens if at_start else 1)
        if any(n > b.capacity for n, b in zip(needs, self.buckets, strict=True)):
            return math.inf
        if all(
            b.fits(f, now, n) for b, f, n in zip(self.buckets, self.full_at, needs, strict=True)
        ):
            charges = (1, planned.input_tokens, planned.max_tokens if at_start else 0)
            self.full_at = [
                b.charged(f, now, c)
                for b, f, c in zip(self.buckets, self.full_at, charges, strict=True)
            ]
            return None
        if not self.headers:
            return math.nan
        wait = max(
            b.wait(f, now, n) for b, f, n in zip(self.buckets, self.full_at, needs, strict=True)
        )
        whole = max(1, math.ceil(wait / self.scale - 1e-9))
        return whole * self.scale

    def produced(self, at: float, tokens: int) -> None:
        """An answer ending at `at` produced `tokens` (charged then under `produced`)."""
        if not self.limits.at_start:
            heapq.heappush(self.pending, (at, tokens))


class ThreeBucketSimulation(Simulation):
    """`Simulation` against `ThreeBucketServer`: each send costs its request's costs,
    each admitted one draws its latency and output as the server draws them."""

    def __init__(
        self, server: ThreeBucketServer, planned: Sequence[Planned], rng: random.Random
    ) -> None:
        super().__init__(
            DecidesItself(), drawn_per_request, rng, overshoot=OVERSHOOT, jitter=JITTER
        )
        self.three = server
        self.planned = planned

    def batch(self, config: ClientConfig) -> VirtualBatch:
        requests = self.three.buckets[0]
        return VirtualBatch(
            config=config,
            charges=[p.input_tokens for p in self.planned],
            recorder=Unrecorded("model", len(self.planned), clock=self.clock),
            rng=self.rng,
            server_clock=self.clock,
            limit=requests.capacity,
            window=requests.capacity / requests.rate,
            margin=MARGIN,
            costs=[(1, p.input_tokens, p.max_tokens) for p in self.planned],
        )

    def decide(self, send: Send) -> tuple[Reply, float]:
        planned = self.planned[send.request]
        wait = self.three.admit(self.now, planned)
        if wait is None:
            d = draw(self.rng, TTFT, TOKEN_TIME, planned.max_tokens)
            seconds = d.duration * self.three.scale
            produced = d.completion_tokens[0]
            self.three.produced(self.now + seconds, produced)
            return Reply(200, "ok", {"usage": {"output_tokens": produced}}), seconds
        back = self.rng.uniform(*REFUSED_BACK)
        if math.isinf(wait):
            return Reply(429, "rate_limited", final=True), back
        return Reply(429, "rate_limited", reopens_in=None if math.isnan(wait) else wait), back


def simulate_run(
    client: str,
    planned: Sequence[Planned],
    limits: AnthropicLimits,
    config: ClientConfig,
    rng: random.Random,
    headers: bool = True,
) -> SimRun:
    """One batch of `client` against the three buckets."""
    scale = config.time_scale
    sim = ThreeBucketSimulation(ThreeBucketServer(limits, scale, headers), planned, rng)
    return simulated_run(client, sim, sim.batch(config), len(planned), scale)


def predict_three_bucket(
    client: str,
    planned: Sequence[Planned],
    limits: AnthropicLimits,
    config: ClientConfig,
    runs: int,
    headers: bool = True,
    seed: int = 0,
) -> LLMPrediction:
    """`runs` simulated batches of `client`, summarised (the OpenAI endpoint's summary)."""
    rng = random.Random(f"ratebench-three-bucket:{client}:{seed}")
    done = [simulate_run(client, planned, limits, config, rng, headers) for _ in range(runs)]
    return summarise(client, len(planned), done)
