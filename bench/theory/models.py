"""What theory predicts for a batch: the best possible makespan, and each client's.

Three tools, all in scenario seconds (time scale 1; pass `scale` to get
wall-clock seconds at another time scale, every figure scales linearly):

- `bound()`: the expected makespan of the best schedule that never breaks
  "L per T": L sends at t = 0, T, 2T, ... (under the server's token bucket,
  `scenario_bound` takes its own: L at once, then one every T / L, from
  `bench.theory.bucket_schedule`). Exact for whole-second uniform
  latencies (the distribution of max(send_i + latency_i) is a product of
  CDFs, of which only the last hi - lo seconds of sends matter, so it costs
  the same at any n); a numerical integral of the same exact distribution
  for uniform continuous latencies (`uniform_makespan`).
- `predict()`: a client's makespan and 429 counts, from the discrete-event
  model in `bench.theory.simulate` run many times with fixed seeds.
- `littles_law()`: the back-of-the-envelope throughput of a client bounded by
  its concurrency or by the limit, for sweeps. An approximation: the
  simulator gives the real figure.

The write-up's scenario (the `TheoryInput()` defaults) gives, under the
fixed window: bound 8.29 s ± 0.72; thread pool 18.46 ± 1.96; token bucket
9.11 ± 0.72; naive gather 20 rejections and about 49 s. Under the server's
token bucket the bound is 8.11 s ± 0.72.

A client's model is its own `virtual_loops` (`clients.infra.virtual`), the
one hook every endpoint's theory asks (`model_for`): its request loops and
limiter, which `run_model` drives in the simulator against `/chat`'s limit,
so theory models the code that runs.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

import clients
from bench.records.scenario import Scenario
from bench.records.stats import percentile
from bench.theory.bucket_schedule import EarliestBucket, bucket_schedule
from bench.theory.simulate import SimAttempt, Simulation, make_server
from clients.config import MARGIN, RETRY_NAMES, ClientConfig, RetryName
from clients.infra.recorder import Recorder
from clients.infra.records import Attempt, Outcome
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Steps
from clients.infra.virtual import VirtualBatch, VirtualLoops, batch_loops
from clients.limiters.sliding_log import SlidingLog, SlidingLogLimiter
from mock_server.token_bucket import Bucket
from mock_server.vocabulary import STRATEGIES, Latency, RatebenchError, Strategy

# The client knobs' defaults (the write-up's values) have one home: ClientConfig.
_CLIENT = ClientConfig()
#: The write-up's latency: 2 to 5 whole seconds.
WRITEUP_LATENCY = Latency(2, 5)


class TheoryError(RatebenchError):
    """A scenario no model can run; the message says how to fix it."""


# --- the input ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TheoryInput:
    """The inputs of the theory, with the write-up's values as defaults.

    Durations are scenario seconds. Client knobs carry `ClientConfig`'s names.

    - `n`: requests in the batch.
    - `limit`, `window`, `strategy`: the server allows `limit` hits per
      `window` seconds under one of its strategies (a window, or a bucket of
      `limit` refilled at `limit` per `window`).
    - `latency`: the seconds each accepted hit takes, drawn as the mock
      server draws them (`mock_server.vocabulary.Latency`: whole-second
      bounds draw `randint`, the write-up's, others `uniform`).
    - `workers`: pool threads (thread pool) or attempts in flight (semaphore).
    - `rate` (tokens per second), `capacity`, `initial_tokens`: the bucket.
    - `attempts`, `retry`, `first_sleep`: the retry schedule.
    - `margin`: seconds the sliding-window client adds to the window
      (`clients.config.MARGIN`, 20 ms of wall time; over the time scale).
    - `overshoot`: seconds every client sleep wakes late (real timers do;
      this also settles exact ties at window edges as a real run does).
    - `jitter`: a hit reaches the server up to this many seconds after it is sent.
    - `phase`: where in a clock-aligned window the batch starts, in seconds
      (sliding-window counter only); None draws it uniformly for each run.
    - `deadline`: seconds after which a run stops, its unfinished requests
      failed; None: runs go to the end.
    """

    n: int = _CLIENT.n
    limit: int = 2
    window: float = 1.0
    strategy: Strategy = "fixed-window"
    latency: Latency = WRITEUP_LATENCY
    workers: int = _CLIENT.workers
    rate: float = _CLIENT.rate
    capacity: int = _CLIENT.capacity
    initial_tokens: int = _CLIENT.initial_tokens
    attempts: int = _CLIENT.attempts
    retry: RetryName = _CLIENT.retry
    first_sleep: float = _CLIENT.first_sleep
    margin: float = MARGIN
    overshoot: float = 0.0001
    jitter: float = 0.0
    phase: float | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        for name in ("n", "limit", "workers", "capacity", "attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise TheoryError(f"{name} must be a whole number >= 1, got {value!r}")
        if not 0 <= self.initial_tokens <= self.capacity:
            raise TheoryError(
                f"initial_tokens must be between 0 and capacity ({self.capacity}) tokens, "
                f"got {self.initial_tokens}"
            )
        for name in ("window", "rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise TheoryError(
                    f"{name} must be a positive number, got {value!r}"
                    + (" seconds" if name == "window" else " tokens per second")
                )
        for name in ("first_sleep", "margin", "overshoot", "jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise TheoryError(f"{name} must be >= 0 seconds, got {value!r}")
        # The latency checked its own bounds when it was made (mock_server.vocabulary).
        if self.strategy not in STRATEGIES:
            raise TheoryError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if self.retry not in RETRY_NAMES:
            raise TheoryError(f"retry must be one of {', '.join(RETRY_NAMES)}, got {self.retry!r}")
        if self.phase is not None and not 0 <= self.phase < self.window:
            raise TheoryError(
                f"phase must be in [0, window={self.window}) seconds or None, got {self.phase!r}"
            )
        if self.deadline is not None and not self.deadline > 0:
            raise TheoryError(f"deadline must be > 0 seconds or None, got {self.deadline!r}")

    @property
    def retry_policy(self) -> RetryPolicy:
        """The clients' own retry policy for this scenario's knobs."""
        return RetryPolicy(self.retry, self.attempts, self.first_sleep)

    def retry_sleeps(self) -> tuple[float, ...]:
        """Seconds slept after each failed attempt but the last: (3, 6, 12, 24) by default.

        `exponential` doubles, `writeup` squares (3, 9, 81, 6561 s, the
        write-up's code as written), `none` makes a single attempt: the
        schedule of `clients.infra.retry`, which the simulated clients follow.
        """
        return tuple(self.retry_policy.schedule())

    def client_config(self) -> ClientConfig:
        """The client knobs a model is given (`VirtualBatch.config`), in the
        simulation's seconds: scenario seconds, so time scale 1."""
        return ClientConfig(
            n=self.n,
            workers=self.workers,
            rate=self.rate,
            capacity=self.capacity,
            initial_tokens=self.initial_tokens,
            attempts=self.attempts,
            retry=self.retry,
            first_sleep=self.first_sleep,
            server_strategy=self.strategy,
        )


def from_client_config(
    config: ClientConfig,
    limit: int = 2,
    window: float = 1.0,
    strategy: Strategy = "fixed-window",
    latency: Latency = WRITEUP_LATENCY,
    **more: object,
) -> TheoryInput:
    """Theory's input from a client's config plus the server's limit and latency.

    The config's durations are already in scenario seconds, so its
    `time_scale` is not used here: pass it as `scale` to `predict`/`bound`.
    `more` sets any other `TheoryInput` field (e.g. `margin`, `phase`).
    """
    fields: dict[str, object] = {
        "n": config.n,
        "limit": limit,
        "window": window,
        "strategy": strategy,
        "latency": latency,
        "workers": config.workers,
        "rate": config.rate,
        "capacity": config.capacity,
        "initial_tokens": config.initial_tokens,
        "attempts": config.attempts,
        "retry": config.retry,
        "first_sleep": config.first_sleep,
        "deadline": config.deadline,
    }
    fields.update(more)
    return TheoryInput(**fields)  # type: ignore[arg-type]


# --- summaries -----------------------------------------------------------------------


def theory_input(scenario: Scenario, config: ClientConfig) -> TheoryInput:
    """Theory's input for a client run with `config` in a bench scenario."""
    return from_client_config(
        config,
        limit=scenario.limit.count,
        window=scenario.limit.window,
        strategy=scenario.limit.strategy,
        latency=Latency(scenario.latency.lo, scenario.latency.hi),
        # The sliding-log margin is wall time, the same at every time scale.
        margin=MARGIN / scenario.time_scale,
    )


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of samples: mean, sample standard deviation, range and percentiles.

    `percentiles` maps 5, 25, 50, 75, 95 to values (`bench.records.stats.percentile`); same unit
    as the samples.
    """

    mean: float
    stdev: float
    min: float
    max: float
    percentiles: dict[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, samples: Sequence[float]) -> Distribution:
        if not samples:
            raise TheoryError("a distribution needs at least one sample")
        ordered = sorted(samples)
        pct = {p: percentile(ordered, p) for p in (5, 25, 50, 75, 95)}
        return cls(
            mean=statistics.fmean(ordered),
            stdev=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
            min=ordered[0],
            max=ordered[-1],
            percentiles=pct,
        )

    def scaled(self, factor: float) -> Distribution:
        """Every figure times `factor` (scenario seconds to wall-clock seconds)."""
        return Distribution(
            self.mean * factor,
            self.stdev * factor,
            self.min * factor,
            self.max * factor,
            {p: v * factor for p, v in self.percentiles.items()},
        )

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.stdev:.2f} ({self.min:.2f} … {self.max:.2f})"


# --- the bound -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    """Expected makespan of the best schedule that keeps the limit, in seconds.

    `exact` is True when computed from the exact distribution (then
    `distribution` holds (makespan, probability) pairs and `mean_exact` the
    mean as a fraction); False for a numerical integral of the exact
    distribution (`method` "numerical") or a Monte Carlo estimate.
    """

    mean: float
    stdev: float
    min: float
    max: float
    exact: bool
    mean_exact: Fraction | None = None
    distribution: tuple[tuple[Fraction, Fraction], ...] = ()
    method: str = ""

    def scaled(self, factor: float) -> Bound:
        """Every time times `factor`; the exact distribution is dropped."""
        return Bound(
            self.mean * factor,
            self.stdev * factor,
            self.min * factor,
            self.max * factor,
            self.exact,
            method=self.method,
        )

    def __str__(self) -> str:
        how = self.method or ("exact" if self.exact else "Monte Carlo")
        return f"{self.mean:.2f} ± {self.stdev:.2f} ({self.min:.2f} … {self.max:.2f}, {how})"


def best_schedule(n: int, limit: int, window: float) -> list[float]:
    """Send times of the best schedule: `limit` sends at t = 0, T, 2T, ... (seconds)."""
    return [(i // limit) * window for i in range(n)]


def _tail(sends: Sequence[float], spread: Fraction) -> tuple[list[Fraction], list[int], Fraction]:
    """The sends that can finish last: distinct times (exact fractions of the floats),
    sorted, with how many sends each; and the last send's time.

    Every finish lies in [s + lo, s + hi], and the last send alone finishes at
    s_max + lo or later, so a send at s <= s_max - (hi - lo) = s_max - `spread`
    never finishes after it and never decides the maximum. Dropping those
    sends is exact, and leaves the sends of the last `spread` seconds: a
    makespan costs the same at 10 requests and at 10,000. (Sends exactly at
    s_max - `spread` are kept: harmless, and it keeps s_max when spread is 0.)
    """
    last = Fraction(max(sends))
    counts = Counter(Fraction(s) for s in sends if Fraction(s) >= last - spread)
    times = sorted(counts)
    return times, [counts[t] for t in times], last


def exact_makespan(sends: Sequence[float], lo: int, hi: int) -> Bound:
    """Exact distribution of max_i(sends[i] + X_i), X_i iid `randint(lo, hi)` seconds.

    P(M <= m) = prod_i F(m - s_i), with F the CDF of the whole-second uniform
    latency; computed in fractions (each send time as the exact value of its
    float), so the mean is exact. Valid for any client whose send times do
    not depend on the latencies drawn (the bound, a token bucket without 429s).

    Cost: only the sends of the last hi - lo seconds can decide the maximum
    (`_tail`, exact). With d distinct times among them and k = hi - lo + 1
    latencies, there are at most d·k possible makespans m, and at each the
    product is prod_j (j/k)^(sends with F(m - s) = j/k), k counts found by
    bisection: O(n + d·k²·log d) steps, whatever n is.
    """
    if not sends:
        raise TheoryError("exact_makespan needs at least one send time")
    if not (int(lo) == lo and int(hi) == hi and 0 <= lo <= hi):
        raise TheoryError(
            f"lo..hi must be whole seconds with 0 <= lo <= hi, got {lo}..{hi}: "
            "HINT: use bound_monte_carlo for other latency distributions"
        )
    lo, hi = int(lo), int(hi)
    span = hi - lo + 1
    times, counts, last = _tail(sends, Fraction(hi - lo))
    total = sum(counts)
    # at_or_before[i]: sends at times[0..i-1]; sends at or before t: at_or_before[bisect(t)].
    at_or_before = [0]
    for c in counts:
        at_or_before.append(at_or_before[-1] + c)
    denominator = span**total

    def done_by(t: Fraction) -> int:
        return at_or_before[bisect.bisect_right(times, t)]

    def cdf(m: Fraction) -> Fraction:
        # A send at s has finished by m with probability j/span, j = floor(m - s) - lo + 1
        # clamped to [0, span]: j >= i exactly when s <= m - (lo + i - 1).
        at_least = [done_by(m - (lo + i - 1)) for i in range(1, span + 1)]
        if at_least[0] < total:
            return Fraction(0)  # some send cannot have finished yet
        numerator = 1
        for i in range(1, span):
            numerator *= i ** (at_least[i - 1] - at_least[i])
        numerator *= span ** at_least[span - 1]
        return Fraction(numerator, denominator)

    support = sorted({t + k for t in times for k in range(lo, hi + 1) if t + k >= last + lo})
    pmf: list[tuple[Fraction, Fraction]] = []
    below = Fraction(0)
    for m in support:
        at_most = cdf(m)
        if at_most > below:
            pmf.append((m, at_most - below))
        below = at_most
    mean = sum((m * p for m, p in pmf), Fraction(0))
    var = sum(((m - mean) ** 2 * p for m, p in pmf), Fraction(0))
    return Bound(
        float(mean), math.sqrt(var), float(pmf[0][0]), float(pmf[-1][0]), True, mean, tuple(pmf)
    )


#: Simpson intervals over `uniform_makespan`'s integral; halving the step moves
#: the write-up's bound and a 100-per-window bound by under 1e-9 s, a
#: 1,000-per-window one (the steepest G yet) by about 1e-6 s.
SIMPSON_STEPS = 2000


def uniform_makespan(sends: Sequence[float], lo: float, hi: float) -> Bound:
    """Mean and σ of max_i(sends[i] + X_i), X_i iid `uniform(lo, hi)` seconds.

    P(M <= m) = G(m) = prod_i F(m - s_i) is exact and cheap (the sends that
    can finish last, grouped by time: `_tail`); the moments are integrals of
    it, E[M] = a + ∫_a^b (1 - G), E[M²] = a² + ∫_a^b 2m (1 - G) over
    [a, b] = [s_max + lo, s_max + hi], taken by Simpson's rule on each piece
    between the kinks of G. A numerical integral of the exact distribution,
    not an estimate from samples: its error (under 1e-9 s for the write-up's
    scenario and for 100 per window, about 1e-6 s for 1,000 per window: it
    grows with the power of G's steepest factor) is far under anything a run
    can show. `exact` is False.
    """
    if not sends:
        raise TheoryError("uniform_makespan needs at least one send time")
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
        raise TheoryError(f"need 0 <= lo <= hi seconds, got {lo}..{hi}")
    last = max(sends)
    if hi == lo:
        return Bound(last + lo, 0.0, last + lo, last + lo, False, method="numerical")
    width = hi - lo
    tail = Counter(float(s) for s in sends if s >= last - width)

    def cdf(m: float) -> float:
        p = 1.0
        for sent, count in tail.items():
            p *= min(max((m - sent - lo) / width, 0.0), 1.0) ** count
        return p

    a, b = last + lo, last + hi
    inside = [t + lo for t in tail] + [t + hi for t in tail]
    kinks = sorted({a, b, *(k for k in inside if a < k < b)})
    # G is smooth between kinks; SIMPSON_STEPS intervals in all, at least 8 a piece.
    steps = max(8, SIMPSON_STEPS // (len(kinks) - 1) // 2 * 2)
    first = second = 0.0
    for start, end in itertools.pairwise(kinks):
        h = (end - start) / steps
        for i in range(steps + 1):
            m = start + i * h
            weight = (1 if i in (0, steps) else 4 if i % 2 else 2) * h / 3
            survive = 1 - cdf(m)
            first += weight * survive
            second += weight * 2 * m * survive
    mean = a + first
    var = max(a * a + second - mean * mean, 0.0)
    return Bound(mean, math.sqrt(var), a, b, False, method="numerical")


def bound(
    n: int = 10,
    limit: int = 2,
    window: float = 1.0,
    lo: int = 2,
    hi: int = 5,
    *,
    scale: float = 1.0,
) -> Bound:
    """Exact expected makespan (and σ) of the best schedule, latencies `randint(lo, hi)` s.

    The best schedule that never breaks "`limit` per `window` seconds" sends
    `limit` requests at t = 0, T, 2T, ...; no schedule that keeps the limit
    finishes earlier on average, since the i-th send cannot go before
    (i // limit) * T. 8.29 s, σ 0.72 for the write-up's scenario.
    """
    if n < 1 or limit < 1:
        raise TheoryError(f"n and limit must be >= 1, got n={n}, limit={limit}")
    if not window > 0:
        raise TheoryError(f"window must be > 0 seconds, got {window}")
    result = exact_makespan(best_schedule(n, limit, window), lo, hi)
    return result if scale == 1 else result.scaled(scale)


def thread_pool_exact(n: int = 10, workers: int = 2, lo: int = 2, hi: int = 5) -> Bound:
    """Exact makespan of `workers` threads taking the next request when free, in seconds.

    The pool is list scheduling: each request goes to the thread that frees
    up first. Exact (a dynamic programme over the threads' free times) as
    long as no attempt is rejected, which holds when workers <= limit and
    lo >= 2 windows (no thread can hit two windows in a row); otherwise use
    `predict` on the thread-pool model. 18.46 s, σ 1.96 for the write-up's scenario.
    """
    if n < 1 or workers < 1 or not (int(lo) == lo and int(hi) == hi and 0 <= lo <= hi):
        raise TheoryError(
            f"need n, workers >= 1 and whole seconds 0 <= lo <= hi, "
            f"got n={n}, workers={workers}, {lo}..{hi}"
        )
    p_each = Fraction(1, int(hi) - int(lo) + 1)
    states: dict[tuple[int, ...], Fraction] = {(0,) * workers: Fraction(1)}
    for _ in range(n):
        following: dict[tuple[int, ...], Fraction] = defaultdict(Fraction)
        for free, p in states.items():
            # Sorted, so free[0] is the thread that frees up first.
            for latency in range(int(lo), int(hi) + 1):
                after = tuple(sorted((free[0] + latency, *free[1:])))
                following[after] += p * p_each
        states = following
    pmf_by: dict[Fraction, Fraction] = defaultdict(Fraction)
    for free, p in states.items():
        pmf_by[Fraction(free[-1])] += p
    pmf = tuple(sorted(pmf_by.items()))
    mean = sum((m * p for m, p in pmf), Fraction(0))
    var = sum(((m - mean) ** 2 * p for m, p in pmf), Fraction(0))
    return Bound(float(mean), math.sqrt(var), float(pmf[0][0]), float(pmf[-1][0]), True, mean, pmf)


def bound_monte_carlo(
    n: int,
    limit: int,
    window: float,
    latency: Callable[[random.Random], float],
    *,
    runs: int = 20000,
    seed: int = 0,
    scale: float = 1.0,
) -> Bound:
    """The bound for any latency distribution, estimated from `runs` samples.

    `latency(rng)` draws one latency in seconds. Standard error of the mean
    is about stdev / sqrt(runs).
    """
    rng = random.Random(seed)
    sends = best_schedule(n, limit, window)
    samples = [max(s + latency(rng) for s in sends) for _ in range(runs)]
    d = Distribution.of(samples)
    return Bound(d.mean, d.stdev, d.min, d.max, False).scaled(scale)


def best_sends(given: TheoryInput) -> list[float]:
    """The best schedule's send times for theory's input: `limit` at t = 0, T, 2T,
    ... under the windows (`best_schedule`), each request at the first instant the
    bucket holds it under the token bucket (`bucket_schedule`: `limit` at once,
    then one every T / limit)."""
    if given.strategy == "token-bucket":
        return bucket_schedule(given.n, given.limit, given.window)
    return best_schedule(given.n, given.limit, given.window)


def scenario_bound(given: TheoryInput, *, scale: float = 1.0) -> Bound:
    """The bound for theory's input, under its strategy (`best_sends`): exact for
    whole-second latencies, a numerical integral of the exact distribution for
    uniform ones (`uniform_makespan`); cheap at any n."""
    latency = given.latency
    sends = best_sends(given)
    if latency.whole_seconds:
        result = exact_makespan(sends, int(latency.low), int(latency.high))
    else:
        result = uniform_makespan(sends, latency.low, latency.high)
    return result if scale == 1 else result.scaled(scale)


# --- Little's law --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LittleEstimate:
    """Throughput in requests per second and the makespan it implies, in seconds."""

    throughput: float
    makespan: float
    bottleneck: Literal["concurrency", "limit"]


def littles_law(
    n: int, workers: int, mean_latency: float, limit: int, window: float
) -> LittleEstimate:
    """Throughput = min(workers / mean latency, limit / window); makespan ~ n / throughput.

    An approximation for sweeps: it ignores the start-up and the tail (the
    last requests' latencies), so it is low for small batches (17.5 s for
    the write-up's thread pool, which really takes 18.5 s).
    """
    if not (workers >= 1 and mean_latency > 0 and limit >= 1 and window > 0 and n >= 1):
        raise TheoryError("littles_law needs n, workers, limit >= 1 and latency, window > 0 s")
    by_workers = workers / mean_latency
    by_limit = limit / window
    if by_workers < by_limit:
        return LittleEstimate(by_workers, n / by_workers, "concurrency")
    return LittleEstimate(by_limit, n / by_limit, "limit")


# --- client models -------------------------------------------------------------------


class Unrecorded(Recorder):
    """The request loop's recorder in virtual time: it keeps no records.

    The simulator logs every attempt itself, as the server saw it
    (`SimAttempt`), and theory reads only that log; building and checking
    the client's own record of each attempt was a fifth of a run's cost.
    """

    def record(
        self,
        request: int,
        attempt: int,
        *,
        queued: float,
        sent: float,
        finished: float,
        status: int | None,
        outcome: Outcome,
        limiter_wait: float = 0.0,
        pool_wait: float = 0.0,
    ) -> Attempt:
        return _UNRECORDED


_UNRECORDED = Attempt(0, 0, 0.0, 0.0, 0.0, None, "ok")


@dataclass(frozen=True, slots=True)
class RunTrace:
    """One simulated run: every attempt, the server model, and the makespan in seconds."""

    attempts: tuple[SimAttempt, ...]
    server: object
    makespan: float
    rejections: int
    failed: int
    completed: bool


def run_model(loops: VirtualLoops, given: TheoryInput, rng: random.Random) -> RunTrace:
    """Simulate one batch of a client's `virtual_loops` against `/chat`'s limit,
    drawing the phase and latencies from `rng`."""
    s = given
    phase = rng.uniform(0, s.window) if s.phase is None else s.phase
    server = make_server(s.strategy, s.limit, s.window, phase)
    sim = Simulation(
        server, s.latency.draw, rng, overshoot=s.overshoot, jitter=s.jitter, deadline=s.deadline
    )
    batch = VirtualBatch(
        config=s.client_config(),
        charges=(1,) * s.n,
        recorder=Unrecorded("model", s.n, clock=sim.clock),
        rng=rng,
        # The server's clock-aligned windows (the sliding-window counter's) are
        # `phase` into one at t = 0.
        server_clock=lambda: sim.clock() + phase,
        limit=s.limit,
        window=s.window,
        margin=s.margin,
    )
    for steps in loops(batch):
        sim.start(steps)
    completed = sim.run()
    log = tuple(sim.log)
    succeeded = {a.request for a in log if a.accepted and a.finished <= sim.now}
    finishes = [a.finished for a in log if a.finished <= sim.now]
    makespan = max(finishes, default=0.0) if completed else sim.now
    return RunTrace(
        log, server, makespan, sum(not a.accepted for a in log), s.n - len(succeeded), completed
    )


def best_schedule_model(batch: VirtualBatch) -> list[Steps[object]]:
    """The best schedule as a model, every request at once through a copy of the
    server's limit (replays run it on a run's own latency draws, with no margin):
    under the windows a sliding log, L sends at t = 0, T, 2T, ...; under the token
    bucket the bucket, each request at the first instant it holds one."""
    clock = batch.recorder.clock
    if batch.config.server_strategy == "token-bucket":
        bucket = Bucket(batch.limit, batch.limit / batch.window)
        return batch_loops(batch, EarliestBucket(bucket, clock))
    log = SlidingLog(batch.limit, batch.window, batch.margin)
    return batch_loops(batch, SlidingLogLimiter(log, clock=clock))


def model_for(client: str, command: str | None = None) -> VirtualLoops | None:
    """Theory's model of `client`, the same hook on every endpoint: its
    `virtual_loops`; None for a client without one (its spec's `no_model` says
    why), and for a program run by --command (`command` given, or a name no
    client has), whatever it is called: theory knows nothing of its policy."""
    if command is not None or client not in clients.REGISTRY:
        return None
    return clients.virtual_loops(client)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A client's predicted makespan (seconds) and 429s per run over `runs` runs."""

    client: str
    given: TheoryInput
    runs: int
    seed: int
    makespan: Distribution
    rejections: Distribution
    failed: Distribution
    unfinished_runs: int = 0

    def scaled(self, factor: float) -> Prediction:
        """Times in wall-clock seconds at time scale `factor`; counts unchanged."""
        return replace(self, makespan=self.makespan.scaled(factor))

    def __str__(self) -> str:
        return (
            f"{self.client}: {self.makespan}, 429s {self.rejections.mean:.1f}, "
            f"failed {self.failed.mean:.2f}"
        )


def predict(
    client: str | VirtualLoops,
    given: TheoryInput | None = None,
    *,
    runs: int = 2000,
    seed: int = 0,
    scale: float = 1.0,
) -> Prediction:
    """Simulate `runs` batches of a client (a registered name or its `virtual_loops`).

    Deterministic for a given seed. A run costs about 50 µs per attempt
    (10,000 requests: about half a second without 429s), and only one run's
    attempts are held at a time.
    """
    if isinstance(client, str):
        found = model_for(client)
        if found is None:
            raise TheoryError(f"no model for client {client!r}: {clients.spec(client).no_model}")
        model, name = found, client
    else:
        model, name = client, "custom"
    if runs < 1:
        raise TheoryError(f"runs must be >= 1, got {runs}")
    given = given or TheoryInput()
    rng = random.Random(seed)
    # Only each run's figures are kept, never its trace: memory stays that of
    # one run (its attempts) however many runs there are.
    makespans: list[float] = []
    rejections: list[float] = []
    failed: list[float] = []
    unfinished = 0
    for _ in range(runs):
        trace = run_model(model, given, rng)
        makespans.append(trace.makespan)
        rejections.append(float(trace.rejections))
        failed.append(float(trace.failed))
        unfinished += not trace.completed
    result = Prediction(
        client=name,
        given=given,
        runs=runs,
        seed=seed,
        makespan=Distribution.of(makespans),
        rejections=Distribution.of(rejections),
        failed=Distribution.of(failed),
        unfinished_runs=unfinished,
    )
    return result if scale == 1 else result.scaled(scale)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the bound and every client under every strategy for the write-up's scenario."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.theory.models",
        description="Predicted makespans (scenario seconds) for the write-up's scenario.",
    )
    parser.add_argument("--runs", type=int, default=2000, help="simulated runs per client")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    base = TheoryInput()
    print(f"bound (exact):                 {bound()}")
    print(f"thread pool (exact, no 429s):  {thread_pool_exact()}")
    bucket = [(k + 1) / base.rate for k in range(base.n)]
    print(f"token bucket schedule (exact): {exact_makespan(bucket, 2, 5)}")
    print(f"Little's law, thread pool:     {littles_law(10, 2, 3.5, 2, 1.0).makespan:.2f} s")
    for strategy in STRATEGIES:
        given = replace(base, strategy=strategy)
        print(f"-- {strategy} ({args.runs} runs, seed {args.seed}), bound {scenario_bound(given)}")
        # The clients of `/chat`, the write-up's endpoint (`local_clients`' default).
        for name in (c for c in clients.local_clients() if model_for(c) is not None):
            p = predict(name, given, runs=args.runs, seed=args.seed)
            print(f"  {p}")


if __name__ == "__main__":
    main()
