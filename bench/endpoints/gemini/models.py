"""Theory's models of the Gemini clients, in virtual time, against the three quotas.

The same driver as the other endpoints' (`bench.theory.simulate.Simulation`)
runs each client's own `virtual_loops` (`clients.infra.virtual`) against a
model of the server:

- **the server**: the endpoint's three quotas as `mock_server.endpoints.gemini.quotas`
  counts them with its default strategy: minutes aligned on the clock's start
  (the batch's), each with room for RPM requests and ITPM input tokens; days
  aligned on midnight Pacific, each with room for RPD requests. A request is
  counted in all three or in none; a refused one is told every quota it did
  not fit and the wait until it fits them all, exactly (the message's "retry
  in 47.88s", which the clients prefer to the whole seconds of `retryDelay`);
- **the clients**: their own limiters and request loops, or the SDK's
  retries restated.

The simulation runs in wall seconds at the scenario's time scale, because the
clients' margins are wall time, and reports scenario seconds.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.endpoints.gemini.bound import LATENCY, Planned
from bench.endpoints.gemini.limits import GeminiLimits
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
from bench.theory.simulate import OK, SimAttempt, Simulation
from clients.config import MARGIN, ClientConfig
from clients.infra.attempts import Reply
from clients.infra.steps import Send
from clients.infra.virtual import VirtualBatch
from clients.transports.gemini_send import GeminiReply, QuotaKind, Refusal
from mock_server.llm_latency import draw
from mock_server.vocabulary import MINUTE

#: How a 429 names the quotas: the order the server lists them in.
_KINDS: dict[str, QuotaKind] = {"rpm": "requests", "itpm": "tokens", "rpd": "day"}


class QuotaModel:
    """The three quotas in the simulation's seconds (`scale` of them a scenario second)."""

    def __init__(self, limits: GeminiLimits, scale: float) -> None:
        self.limits = limits
        self.scale = scale
        self.minutes: Counter[int] = Counter()
        self.tokens: Counter[int] = Counter()
        self.days: Counter[int] = Counter()

    def __repr__(self) -> str:
        return f"<QuotaModel {self.limits.words()} days={dict(self.days)}>"

    def admit(self, at: float, charge: int) -> Refusal | None:
        """None if a request of `charge` input tokens arriving at `at` is admitted,
        else what its 429 says (wait inf: never, it is too large)."""
        t = at / self.scale
        limits = self.limits
        minute = math.floor(t / MINUTE + 1e-12)
        day = limits.day_of(t)
        hit: list[str] = []
        if self.minutes[minute] + 1 > limits.rpm:
            hit.append("rpm")
        if self.tokens[minute] + charge > limits.itpm:
            hit.append("itpm")
        if self.days[day] + 1 > limits.rpd:
            hit.append("rpd")
        if not hit:
            self.minutes[minute] += 1
            self.tokens[minute] += charge
            self.days[day] += 1
            return None
        kinds = tuple(_KINDS[h] for h in sorted(hit, key=("rpd", "itpm", "rpm").index))
        # Each violation states its quota's value, as the server's do (`quotaValue`).
        stated = {"rpm": limits.rpm, "itpm": limits.itpm, "rpd": limits.rpd}
        values = tuple((_KINDS[h], stated[h]) for h in hit)
        if charge > limits.itpm:
            return Refusal(kinds, math.inf, values)
        waits = [(minute + 1) * MINUTE - t] if {"rpm", "itpm"} & set(hit) else []
        if "rpd" in hit:
            waits.append(limits.opens(day + 1) - t)
        return Refusal(kinds, max(waits) * self.scale, values)


class QuotaSimulation(Simulation):
    """`Simulation` against the three quotas: each send charged its input tokens,
    each admitted one drawn its latency as the server draws it."""

    def __init__(
        self, quotas: QuotaModel, planned: Sequence[Planned], rng: random.Random, scale: float
    ) -> None:
        super().__init__(
            DecidesItself(), drawn_per_request, rng, overshoot=OVERSHOOT, jitter=JITTER
        )
        self.quotas = quotas
        self.planned = planned
        self.scale = scale

    def batch(self, config: ClientConfig) -> VirtualBatch:
        limits = self.quotas.limits
        return VirtualBatch(
            config=config,
            charges=[r.charge for r in self.planned],
            recorder=Unrecorded("model", len(self.planned), clock=self.clock),
            rng=self.rng,
            server_clock=self.clock,
            limit=limits.rpm,
            window=MINUTE * self.scale,
            margin=MARGIN,
        )

    def decide(self, send: Send) -> tuple[Reply, float]:
        request = self.planned[send.request]
        refusal = self.quotas.admit(self.now, request.charge)
        if refusal is None:
            d = draw(self.rng, LATENCY.ttft, LATENCY.token_time, request.max_tokens)
            return OK, d.duration * self.scale
        back = self.rng.uniform(*REFUSED_BACK)
        wait = None if math.isinf(refusal.wait or 0) else refusal.wait
        return GeminiReply(429, "rate_limited", reopens_in=wait, refusal=refusal), back


@dataclass(frozen=True, slots=True)
class QuotaRun(SimRun):
    """One simulated batch, and the attempts it sent in a day after that day's first
    per-day refusal came back."""

    after_day_refusal: int


@dataclass(frozen=True, slots=True)
class QuotaPrediction(LLMPrediction):
    """A client's simulated runs, summarised, with the attempts a run sent in a day
    after its first per-day refusal came back."""

    after_day_refusal: float


def simulate_run(
    client: str,
    planned: Sequence[Planned],
    limits: GeminiLimits,
    config: ClientConfig,
    rng: random.Random,
) -> QuotaRun:
    scale = config.time_scale
    quotas = QuotaModel(limits, scale)
    sim = QuotaSimulation(quotas, planned, rng, scale)
    run = simulated_run(client, sim, sim.batch(config), len(planned), scale)
    return QuotaRun(run.ended, run.rejections, run.lost, _after_day_refusal(sim, limits))


def _after_day_refusal(sim: QuotaSimulation, limits: GeminiLimits) -> int:
    """Attempts sent in a day after that day's first refusal by the day's quota came
    back to the client (the simulation logs no quota names: a refusal is the day's
    once the day has admitted its quota). Attempts already on the wire then, a burst
    sent together, are not counted: the client could not have known."""
    scale = sim.scale
    by_day: dict[int, list[SimAttempt]] = {}
    for a in sorted(sim.log, key=lambda a: a.arrived):
        by_day.setdefault(limits.day_of(a.arrived / scale), []).append(a)
    late = 0
    for attempts in by_day.values():
        admitted = 0
        learned: float | None = None
        for a in attempts:
            if learned is not None and a.sent > learned:
                late += 1
            admitted += a.accepted
            if learned is None and not a.accepted and admitted >= limits.rpd:
                learned = a.finished
    return late


def predict(
    client: str,
    planned: Sequence[Planned],
    limits: GeminiLimits,
    config: ClientConfig,
    runs: int,
    seed: int = 0,
) -> QuotaPrediction:
    """`runs` simulated batches of `client`, summarised."""
    rng = random.Random(f"ratebench-gemini:{client}:{seed}")
    done = [simulate_run(client, planned, limits, config, rng) for _ in range(runs)]
    return QuotaPrediction(
        **asdict(summarise(client, len(planned), done)),
        after_day_refusal=statistics.fmean(r.after_day_refusal for r in done),
    )
