"""Theory's models of the clients of the OpenAI-compatible endpoint, in virtual time.

`bench.simulate` runs the clients' own request loops and limiters against
a model of `/chat`'s one limit. Here the same driver runs against a model of
the endpoint's two limits, each request with its own charge and its own
latency draw (`mock_server.llm_latency.draw`, the server's function):

- **the server**: limits' fixed window on both limits at once (the
  endpoint's default, `mock_server.openai_limits`): a window opens at the
  first request admitted after the last one closed and lasts a minute; a
  request is admitted if the window holds fewer than RPM requests and its
  charge fits in what is left of the TPM; a refused request counts in
  neither, and is told how long until the window closes (`retry-after-ms`).
- **budget_window** and **cookbook_parallel**: their own limiters
  (`clients.limiters.budget_window`, `clients.limiters.cookbook_bucket`)
  and the request loop, built by the clients' own `make_limiters` on the
  virtual clock.
- **openai_sdk**: the SDK's retry policy, restated (openai-python's
  `_base_client`: `max_retries` 2, so three attempts; after a 429 it sleeps
  the server's `retry-after-ms` when that is above 0 and at most two
  minutes, else 0.5 s doubling to at most 8 s less up to a quarter).
- **openai_tenacity**: the cookbook's tenacity recipe, restated
  (`wait_random_exponential(min=1, max=60)`, six attempts: the k-th wait is
  uniform between 1 s and min(2^(k-1), 60) s).

`header_adaptive` has no model: it learns the limits from the answers'
headers and bodies, which this model of the server does not write.

The simulation runs in wall seconds at the scenario's time scale, because
the clients' margins are wall time (budget_window's 100 ms), and reports
scenario seconds, like every measurement. Only the fixed window is
modelled; on the other strategies the bench says so.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.simulate import OK, Simulation
from bench.two_limit import Planned, Windows
from clients.config import ClientConfig
from clients.infra.attempts import Reply
from clients.infra.steps import Send, Sleep, Steps
from mock_server.llm_latency import draw
from mock_server.openai_settings import DEFAULTS

# The SDK's retry constants (openai-python `_constants.py`), and the cookbook
# recipe's tenacity arguments (`clients.catalog.openai_tenacity`).
SDK_ATTEMPTS = 3  # DEFAULT_MAX_RETRIES 2, plus the first
SDK_FIRST_DELAY, SDK_MAX_DELAY, SDK_MAX_RETRY_AFTER = 0.5, 8.0, 120.0
# Wall seconds every sleep wakes late, and a send takes to reach the server.
OVERSHOOT, JITTER = 0.001, 0.002
# The fixed window only: the other strategies' windows are not modelled here.
MODELLED_STRATEGY = "fixed-window"


@dataclass(slots=True)
class TwoLimitWindow:
    """The endpoint's fixed window on both limits, in the simulation's seconds."""

    limits: Windows
    opened: float = -math.inf
    count: int = 0
    used: int = 0

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


class TwoLimitSimulation(Simulation):
    """`Simulation` against `TwoLimitWindow`: each send charged its request's charge,
    each admitted one drawn its latency as the server draws it."""

    def __init__(
        self, server: TwoLimitWindow, planned: Sequence[Planned], rng: random.Random, scale: float
    ) -> None:
        super().__init__(_unused_server, _unused_latency, rng, overshoot=OVERSHOOT, jitter=JITTER)
        self.two = server
        self.planned = planned
        self.scale = scale

    def decide(self, send: Send) -> tuple[Reply, float]:
        request = self.planned[send.request]
        wait = self.two.admit(self.now, request.charge)
        if wait is None:
            d = draw(self.rng, DEFAULTS.ttft, DEFAULTS.token_time, request.max_tokens)
            return OK, d.duration * self.scale
        return Reply(429, "rate_limited", reopens_in=wait if math.isfinite(wait) else None), 0.0


class _NoHits:
    def hit(self, at: float) -> bool:
        raise AssertionError("the two-limit simulation decides in `decide`")


_unused_server = _NoHits()


def _unused_latency(rng: random.Random) -> float:
    raise AssertionError("the two-limit simulation draws per request")


# -- the clients -------------------------------------------------------------------

Loops = Callable[[TwoLimitSimulation, ClientConfig], list[Steps[object]]]


def _limiter_loops(make_limiters: Callable[..., Callable[..., object]]) -> Loops:
    """A client built from its own `make_limiters` and the request loop."""

    def loops(sim: TwoLimitSimulation, config: ClientConfig) -> list[Steps[object]]:
        from bench.theory import Unrecorded
        from clients.infra.loop import request_loop
        from clients.infra.openai_batch import ChatRequest
        from clients.infra.retry import RetryPolicy

        limiter_for = make_limiters(config, sim.clock)
        policy = RetryPolicy.from_config(config)
        recorder = Unrecorded("model", config.n, clock=sim.clock)
        return [
            request_loop(
                i,
                limiter_for(ChatRequest(i, {}, r.charge)),  # type: ignore[arg-type]
                policy,
                recorder,
                time_scale=config.time_scale,
            )
            for i, r in enumerate(sim.planned)
        ]

    return loops


def _budget_window(sim: TwoLimitSimulation, config: ClientConfig) -> list[Steps[object]]:
    from clients.catalog import budget_window

    return _limiter_loops(budget_window.make_limiters)(sim, config)


def _cookbook_parallel(sim: TwoLimitSimulation, config: ClientConfig) -> list[Steps[object]]:
    from clients.catalog import cookbook_parallel

    mine = cookbook_parallel.own_config(config)
    return _limiter_loops(cookbook_parallel.make_limiters)(sim, mine)


def _retrying(request: int, attempts: int, wait: Callable[[int, Reply], float]) -> Steps[object]:
    """Send until answered or `attempts` ran out, sleeping `wait(retry, reply)` after
    each 429 (retry from 1)."""
    for attempt in range(attempts):
        reply = yield Send(request, attempt)
        assert isinstance(reply, Reply)
        if reply.outcome == "ok":
            return True
        if attempt + 1 < attempts:
            yield Sleep(wait(attempt + 1, reply))
    return False


def _openai_sdk(sim: TwoLimitSimulation, config: ClientConfig) -> list[Steps[object]]:
    def wait(retry: int, reply: Reply) -> float:
        after = reply.reopens_in
        if after is not None and 0 < after <= SDK_MAX_RETRY_AFTER:
            return after
        # Not scaled: the SDK's own backoff is wall time at any time scale.
        return min(SDK_FIRST_DELAY * 2.0 ** (retry - 1), SDK_MAX_DELAY) * (
            1 - 0.25 * sim.rng.random()
        )

    return [_retrying(i, SDK_ATTEMPTS, wait) for i in range(len(sim.planned))]


def _openai_tenacity(sim: TwoLimitSimulation, config: ClientConfig) -> list[Steps[object]]:
    from clients.catalog.openai_tenacity import ATTEMPTS, MAX_WAIT, MIN_WAIT, MULTIPLIER

    low, top, unit = (config.scaled(x) for x in (MIN_WAIT, MAX_WAIT, MULTIPLIER))

    def wait(retry: int, reply: Reply) -> float:
        high = max(low, min(unit * 2.0 ** (retry - 1), top))
        return sim.rng.uniform(low, high)

    return [_retrying(i, ATTEMPTS, wait) for i in range(len(sim.planned))]


MODELS: dict[str, Loops] = {
    "budget_window": _budget_window,
    "cookbook_parallel": _cookbook_parallel,
    "openai_sdk": _openai_sdk,
    "openai_tenacity": _openai_tenacity,
}


# -- runs and their summary ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimRun:
    """One simulated batch, in scenario seconds: when its last answer came (the
    makespan if nothing was lost), its 429s and the requests it lost."""

    ended: float
    rejections: int
    lost: int


@dataclass(frozen=True, slots=True)
class TwoLimitPrediction:
    """A client's simulated runs, summarised; `ended` is the makespan when no run lost
    a request, else when the batch ended."""

    client: str
    n: int
    runs: int
    mean: float
    stdev: float
    rejections: float
    lost: float

    def words(self) -> str:
        many = f"{self.rejections:.1f} × 429 ({self.runs} simulated runs)"
        if self.lost:
            return (
                f"loses {self.lost:.1f} of {self.n} requests, its batch ending at "
                f"{self.mean:.2f} s ± {self.stdev:.2f}; {many}"
            )
        return f"{self.mean:.2f} s ± {self.stdev:.2f}, {many}"


def simulate_run(
    client: str,
    planned: Sequence[Planned],
    limits: Windows,
    config: ClientConfig,
    rng: random.Random,
) -> SimRun:
    """One batch of `client` against the two limits; `limits.window` in scenario seconds."""
    scale = config.time_scale
    wall = Windows(limits.requests, limits.tokens, limits.window * scale)
    sim = TwoLimitSimulation(TwoLimitWindow(wall), planned, rng, scale)
    for steps in MODELS[client](sim, config):
        sim.start(steps)
    sim.run()
    answered = {a.request for a in sim.log if a.accepted}
    ended = max((a.finished for a in sim.log), default=0.0)
    rejections = sum(not a.accepted for a in sim.log)
    return SimRun(ended / scale, rejections, len(planned) - len(answered))


def predict_two_limit(
    client: str,
    planned: Sequence[Planned],
    limits: Windows,
    config: ClientConfig,
    runs: int,
    seed: int = 0,
) -> TwoLimitPrediction:
    """`runs` simulated batches of `client` (a name in MODELS), summarised."""
    rng = random.Random(f"ratebench-two-limit:{client}:{seed}")
    done = [simulate_run(client, planned, limits, config, rng) for _ in range(runs)]
    ended = [r.ended for r in done]
    return TwoLimitPrediction(
        client=client,
        n=len(planned),
        runs=runs,
        mean=statistics.fmean(ended),
        stdev=statistics.stdev(ended) if len(ended) > 1 else 0.0,
        rejections=statistics.fmean(r.rejections for r in done),
        lost=statistics.fmean(r.lost for r in done),
    )
