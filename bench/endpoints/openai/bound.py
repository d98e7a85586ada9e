"""The best possible makespan of a request set under two limits at once.

The OpenAI-compatible endpoint admits a request only if its window has room
for one more request (RPM) and for its charge (TPM): the prompt's tokens as
the server estimates them plus `n x max_tokens` (`mock_server.tokens`, the
server's own estimate, imported, never copied). Per-minute limits are
enforced per window of W scenario seconds (a minute, or the `--quantize`
slice) with R requests and T tokens each (`openai_settings.per_slice`).

**The schedule.** Greedy in file order, window by window: window k (sent at
t = kW) takes the next requests while it holds fewer than R of them and
their charges fit in T. Next-fit packing in a fixed order uses as few
windows as any packing in that order can, and each window's requests go at
its very start, so:

- **fixed window** (limits' default: a window opens at its first hit): no
  client that sends in file order and is never refused finishes earlier.
  Exact, for file order.
- **moving window**: the same schedule is what a client keeping "R and T
  in any W" reaches, and the moving window admits it, but it is not proven
  best. Stated as the target, beside a lower bound.

**The sliding-window counter** does not admit that schedule. Its windows
are aligned to multiples of W on the server's clock, and a hit of cost c
(1 for the requests limit, the charge for the tokens limit) goes only while
`floor(previous x (1 - f) + current) + c <= L`, f the fraction of the
current window gone: after a full window the next one admits new sends only
as the previous one's weight fades, about R evenly spread over it. So the
counter has its own schedule: requests in file order, each at the earliest
instant both limits' counters admit it given every earlier send
(`counter_sends`, in closed form: a counter's weighted count is continuous
and never rises between hits, so the instant it falls below `L - c + 1` is
now, a point of this window, or a point of the next). No file-order client
sends any request earlier (by induction: moving a send earlier never raises
the weighted count at a later instant), but the schedule depends on where
in a clock window the batch starts (the phase), which a run does not
choose: the bound is its expected makespan averaged over `PHASES` phases
evenly spread over the window, the standard deviation combining latency and
phase. Not `exact`: another order may do better, and a real phase is one
draw. Where requests bind over full windows it ends later than the windowed
schedule (each window after the first is spread over the whole window);
where tokens bind it can end sooner (a charge goes once the weight leaves
room for it, where windows packed in file order waste what a window's next
request could not use).

**The lower bound, for any order and any strategy that admits at most R and
T in each W-long span** (fixed and moving windows): the sends span
`[0, t_last]`, which `floor(t_last / W) + 1` spans of W cover, each holding
at most T tokens and R requests, so `t_last >= (K - 1) W` with `K =
max(ceil(n / R), ceil(sum of charges / T))`; the batch ends no earlier than
that plus the shortest expected latency of one request. The counter can
admit nearly 2R in a span of W straddling a window's edge, so this does not
hold for it; what does hold is that each *clock* window counts at most R
and T (`current` alone must leave room), and the batch starting at phase p
touches `floor((p + t_last) / W) + 1` of them: `t_last >= (K - 1) W - p`,
that is `(K - 3/2) W` averaged over the phase (for K >= 2), plus the
latency.

**The token bucket** (`--strategy token-bucket`) refills continuously: a
bucket of requests and one of tokens, each holding a minute's worth (or the
`--quantize` slice's), full at the start and refilled at RPM and TPM a
minute. The best schedule sends each request, in file order, at the first
instant both buckets hold its charge (`bench.theory.bucket_schedule`, where
why no file-order client goes sooner is argued); exact, for file order. It
is never later than the windowed schedule for the same limits (which a
bucket admits). **Its lower bound, for any order**: a bucket starting full
admits at most `capacity + rate x t` by t, so the last send is at t >=
`max((n - C_R) / rate_R, (sum of charges - C_T) / rate_T)`, plus the
shortest expected latency.

**Latency** is the server's LLM model (`mock_server.llm_latency`): time to
the first token (uniform, or whole seconds for whole-number bounds), then
`token_time` per output token after the first, the output tokens drawn
uniformly from `1..max_tokens`. The makespan of a schedule is the expected
latest finish, `E[max_i (s_i + D_i)]`, computed from the product of the
latencies' distribution functions (numerically, on a grid of about a
millisecond of scenario time), with its standard deviation.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.endpoints.openai.limits import OpenAILimits
from bench.records.results import RunRecord
from bench.records.scenario import Scenario as BenchScenario
from bench.records.scenario import request_bodies
from bench.records.windows import batch_start_wall
from bench.theory.bucket_schedule import earliest_sends
from bench.theory.latest_finish import LLMLatency, latest_finish
from bench.theory.simulate import SlidingWindowCounter
from mock_server import tokens
from mock_server.endpoints.openai.settings import DEFAULTS, OpenAISettings, per_slice
from mock_server.token_bucket import Bucket
from mock_server.vocabulary import MINUTE, RatebenchError

Floats = npt.NDArray[np.float64]
#: The server's latency model with its defaults.
LATENCY = LLMLatency()
# Phases of the batch in the counter's clock window averaged over: the
# mid-points of as many equal slices, so a makespan linear in the phase
# averages exactly.
PHASES = 64
COUNTER = "sliding-window-counter"


class TwoLimitError(RatebenchError):
    """A request set no schedule can finish (a charge larger than a window allows)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One request as the limits and the latency see it: its charge and its max_tokens."""

    charge: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Windows:
    """R requests and T tokens per window of `window` scenario seconds."""

    requests: int
    tokens: int
    window: float

    @classmethod
    def per_minute(cls, rpm: int, tpm: int, quantize: float | None = None) -> Windows:
        """The server's windows for `--rpm`, `--tpm` and `--quantize` (scenario seconds)."""
        window = quantize if quantize is not None else MINUTE
        return cls(per_slice(rpm, window), per_slice(tpm, window), window)


@dataclass(frozen=True, slots=True)
class TwoLimitBound:
    """What theory says of a request set under both limits, in scenario seconds.

    - `mean`, `stdev`: the expected makespan of the greedy schedule (see the
      module) and its standard deviation over the latency draws;
    - `exact`: True where that schedule is the best possible (fixed window,
      file order); otherwise it is the target and `lower` the bound;
    - `windows`: windows the greedy schedule uses; `lower_windows`: K, the
      fewest any order could use; `lower`: the bound from K (see the module);
    - `binding`: which limit fills the greedy windows ("requests", "tokens"
      or "latency" when everything fits in the first window);
    - `phases`: for the sliding-window counter, how many phases `mean` and
      `stdev` average the counter's own schedule over (then `lower` is
      averaged over the phase too); 0 for the windowed schedule;
    - `bucket`: under the token bucket: `mean` is the earliest schedule's
      (`windows` and `lower_windows` are 0: no windows) and `lower` the
      bound from the buckets' capacity and refill.
    """

    mean: float
    stdev: float
    exact: bool
    windows: int
    lower_windows: int
    lower: float
    binding: str
    basis: str
    phases: int = 0
    bucket: bool = False

    def words(self) -> str:
        if self.bucket:
            return (
                f"{self.mean:.2f} s ± {self.stdev:.2f} (exact, file order; each request at the "
                f"first instant both buckets hold its charge; {self.binding} bind)"
            )
        if self.phases:
            return (
                f"{self.mean:.2f} s ± {self.stdev:.2f} (earliest admission under the counter, "
                f"mean over the phase; lower bound {self.lower:.2f} s; {self.binding} bind)"
            )
        kind = "exact, file order" if self.exact else f"target; lower bound {self.lower:.2f} s"
        return (
            f"{self.mean:.2f} s ± {self.stdev:.2f} ({kind}; {self.windows} windows, "
            f"{self.binding} bind)"
        )

    def lower_words(self) -> str:
        """What the lower bound stands on."""
        if self.bucket:
            return (
                "any order waits for what is charged beyond the buckets' capacity to "
                f"refill: lower bound {self.lower:.2f} s"
            )
        windows = f"{self.lower_windows} {'clock ' if self.phases else ''}window" + (
            "" if self.lower_windows == 1 else "s"
        )
        if self.phases:
            return (
                f"any order touches at least {windows}: lower bound "
                f"{self.lower:.2f} s, mean over the phase"
            )
        return f"any order needs at least {windows}: lower bound {self.lower:.2f} s"


@dataclass(frozen=True, slots=True)
class Buckets:
    """The endpoint's two token buckets, as the server makes them
    (`mock_server.endpoints.openai.api`): requests and tokens, each holding a
    slice's worth (a minute's without `--quantize`), refilled at the per-minute
    rates; rates in units a scenario second."""

    requests: Bucket
    tokens: Bucket

    @classmethod
    def per_minute(cls, rpm: int, tpm: int, quantize: float | None = None) -> Buckets:
        """The server's buckets for `--rpm`, `--tpm` and `--quantize` (scenario seconds)."""
        served = OpenAISettings(rpm=rpm, tpm=tpm, quantize=quantize)
        return cls(
            Bucket(served.requests_per_window, rpm / MINUTE),
            Bucket(served.tokens_per_window, tpm / MINUTE),
        )

    def scaled(self, scale: float) -> Buckets:
        """The same buckets with rates in units a wall second at time scale `scale`."""
        return Buckets(
            Bucket(self.requests.capacity, self.requests.rate / scale),
            Bucket(self.tokens.capacity, self.tokens.rate / scale),
        )


def plan_request(
    body: Mapping[str, Any], default_max_tokens: int = DEFAULTS.default_max_tokens
) -> Planned:
    """A request body's charge and max_tokens, as the server computes them."""
    answer = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    choices = int(body.get("n") or 1)
    prompt = tokens.prompt_tokens(body.get("messages") or [])
    return Planned(tokens.charge(prompt, int(answer), choices), int(answer))


def plan_requests(
    bodies: Iterable[Mapping[str, Any]], default_max_tokens: int = DEFAULTS.default_max_tokens
) -> list[Planned]:
    return [plan_request(b, default_max_tokens) for b in bodies]


def check_fits(requests: Sequence[Planned], most: int, room: str = "a window allows") -> None:
    """TwoLimitError if some request can never be admitted: `most` tokens is what
    `room` says (a window's, or the bucket's capacity)."""
    for index, r in enumerate(requests):
        if r.max_tokens > DEFAULTS.max_output_tokens:
            raise TwoLimitError(
                f"request {index} asks for max_tokens {r.max_tokens}, above the model's maximum "
                f"output ({DEFAULTS.max_output_tokens:,} tokens, the server's "
                "--max-output-tokens): the server refuses it with a 400, so no schedule "
                "finishes; write smaller requests (python -m bench requests --max-tokens ...)"
            )
        if r.charge > most:
            raise TwoLimitError(
                f"request {index} is charged {r.charge} tokens, more than the {most} "
                f"{room}: the server refuses it as too large, so no schedule finishes; "
                "raise --tpm or write smaller requests"
            )


def greedy_windows(requests: Sequence[Planned], limits: Windows) -> list[int]:
    """The window (from 0) each request goes in, greedy in file order."""
    check_fits(requests, limits.tokens)
    window, count, used = 0, 0, 0
    placed: list[int] = []
    for r in requests:
        if count + 1 > limits.requests or used + r.charge > limits.tokens:
            window, count, used = window + 1, 0, 0
        count += 1
        used += r.charge
        placed.append(window)
    return placed


def fewest_windows(requests: Sequence[Planned], limits: Windows) -> int:
    """K: no order of the requests fits in fewer windows than this."""
    if not requests:
        return 0
    by_count = math.ceil(len(requests) / limits.requests)
    by_tokens = math.ceil(sum(r.charge for r in requests) / limits.tokens)
    return max(by_count, by_tokens)


def counter_sends(requests: Sequence[Planned], limits: Windows, phase: float) -> list[float]:
    """When each request goes, in file order, at the earliest instant limits'
    sliding-window counter admits it under both limits given every earlier
    send; scenario seconds from the batch's start, which is `phase` seconds
    into a clock window. Each time is the first float the counter's own
    arithmetic admits (the instant the weight crosses is refused: `<`)."""
    check_fits(requests, limits.tokens)
    by_count = SlidingWindowCounter(limits.requests, limits.window, phase)
    by_tokens = SlidingWindowCounter(limits.tokens, limits.window, phase)
    sends: list[float] = []
    t = 0.0
    for r in requests:
        tests = ((by_count, 1), (by_tokens, r.charge))
        # Each counter, once it admits, keeps admitting until the next hit:
        # the later crossing is the first instant both admit.
        t = _first_admitted(max(_crossing(c, t, cost) for c, cost in tests), tests)
        for counter, cost in tests:
            counter.hit(t, cost)
        sends.append(t)
    return sends


def _crossing(counter: SlidingWindowCounter, at: float, cost: int) -> float:
    """The instant from `at` on at which `counter` starts admitting `cost`, with no
    hit in between: its weighted count `previous x (1 - f) + current` is continuous
    and never rises between hits, so it falls below `room` once, in exact arithmetic."""
    w = counter.window
    room = counter.limit - cost + 1  # floor(x) + cost <= L  <=>  x < room
    if counter.weighted(at) < room:
        return at
    k = int((at + counter.phase) / w)  # the clock window, as the counter reads it
    previous, current = counter.counts.get(k - 1, 0), counter.counts.get(k, 0)
    if current < room:  # the previous window's weight fades below room - current in this one
        return (k + 1 - (room - current) / previous) * w - counter.phase
    # The current count fades over the next window, as that window's previous.
    return (k + 2 - room / current) * w - counter.phase


def _first_admitted(t: float, tests: Iterable[tuple[SlidingWindowCounter, int]]) -> float:
    """The first float from `t` on that every (counter, cost) admits, `t` being the
    crossing in exact arithmetic: doubling steps up from one ulp, then bisection."""
    tests = tuple(tests)

    def admitted(at: float) -> bool:
        return all(counter.admits(at, cost) for counter, cost in tests)

    if admitted(t):
        return t
    lo, step = t, math.ulp(max(abs(t), 1.0))
    hi = t + step
    while not admitted(hi):
        lo, step = hi, 2 * step
        hi = t + step
    while (mid := (lo + hi) / 2) not in (lo, hi):
        if admitted(mid):
            hi = mid
        else:
            lo = mid
    return hi


def counter_phases(window: float, phases: int = PHASES) -> list[float]:
    """Where in a clock window the batch may start: mid-points of `phases` equal slices."""
    return [(j + 0.5) / phases * window for j in range(phases)]


def counter_makespan(
    requests: Sequence[Planned], limits: Windows, latency: LLMLatency, phases: int = PHASES
) -> tuple[float, float, list[float]]:
    """(mean, stdev, last send per phase) of the counter's schedule's makespan, the
    phase uniform over the window: a mixture of each phase's latest finish."""
    means: list[float] = []
    seconds: list[float] = []  # E[makespan^2] per phase
    last: list[float] = []
    for phase in counter_phases(limits.window, phases):
        times = counter_sends(requests, limits, phase)
        mean, stdev = latest_finish(
            [(t, r.max_tokens) for t, r in zip(times, requests, strict=True)], latency
        )
        means.append(mean)
        seconds.append(stdev**2 + mean**2)
        last.append(times[-1])
    mean = sum(means) / phases
    return mean, math.sqrt(max(0.0, sum(seconds) / phases - mean**2)), last


def counter_phase_makespan(
    requests: Sequence[Planned], limits: Windows, latency: LLMLatency, phase: float
) -> tuple[float, float]:
    """(mean, stdev) of the counter's schedule's makespan for a batch starting `phase`
    seconds into the server's clock window: one run's own bound, its phase read
    from the server's log (`run_phase`)."""
    times = counter_sends(requests, limits, phase)
    return latest_finish([(t, r.max_tokens) for t, r in zip(times, requests, strict=True)], latency)


def run_phase(run: RunRecord) -> float:
    """Scenario seconds into the server's clock window (multiples of a minute on
    time.time(), as limits aligns the counter's) at which `run`'s batch started."""
    scale = run.scenario.time_scale
    return (batch_start_wall(run) % (MINUTE * scale)) / scale


def scenario_phase_bound(scenario: BenchScenario, phase: float) -> tuple[float, float]:
    """The counter's bound of an openai scenario for a batch starting at `phase`."""
    planned, limits = scenario_plan(scenario)
    return counter_phase_makespan(planned, limits, LLMLatency(), phase)


def two_limit_bound(
    requests: Sequence[Planned],
    limits: Windows,
    latency: LLMLatency = LATENCY,
    strategy: str = "fixed-window",
) -> TwoLimitBound:
    """The best possible makespan of `requests` under `limits` for a file-order
    client: the greedy windowed schedule, or the counter's own (see the module).
    The token bucket has its own (`bucket_bound`)."""
    if strategy == "token-bucket":
        raise ValueError("the token bucket is no window: its bound is bucket_bound's")
    placed = greedy_windows(requests, limits)
    if not requests:
        return TwoLimitBound(0.0, 0.0, True, 0, 0, 0.0, "latency", "no requests")
    windows = placed[-1] + 1
    k = fewest_windows(requests, limits)
    shortest = min(latency.mean(r.max_tokens) for r in requests)
    if windows == 1:
        binding = "latency"
    else:
        # The limit that closed more of the full windows.
        per_window = Counter(placed)
        closed_by_count = sum(1 for w in range(windows - 1) if per_window[w] == limits.requests)
        binding = "requests" if 2 * closed_by_count >= windows - 1 else "tokens"
    basis = (
        f"{len(requests)} requests, {sum(r.charge for r in requests)} tokens charged, "
        f"{limits.requests} requests and {limits.tokens} tokens per {limits.window:g} s; "
    )
    if strategy == COUNTER:
        mean, stdev, last = counter_makespan(requests, limits, latency)
        # Each clock window counts at most R and T: from phase p, t_last >= (K - 1) W - p.
        span = (k - 1) * limits.window
        lower = shortest + sum(max(0.0, span - p) for p in counter_phases(limits.window)) / PHASES
        basis += (
            "earliest admission in file order under the counter, averaged over the batch's "
            f"phase in the clock window ({PHASES} phases; last send at t = {min(last):.2f} "
            f"to {max(last):.2f} s)"
        )
        return TwoLimitBound(
            mean, stdev, False, windows, k, min(lower, mean), binding, basis, PHASES
        )
    sends = [(w * limits.window, r.max_tokens) for w, r in zip(placed, requests, strict=True)]
    mean, stdev = latest_finish(sends, latency)
    lower = (k - 1) * limits.window + shortest
    basis += f"greedy in file order: {windows} windows, sent at t = 0, {limits.window:g}, ... s"
    exact = strategy == "fixed-window"
    return TwoLimitBound(mean, stdev, exact, windows, k, min(lower, mean), binding, basis)


def bucket_bound(
    requests: Sequence[Planned], buckets: Buckets, latency: LLMLatency = LATENCY
) -> TwoLimitBound:
    """The best possible makespan of `requests` under the two token buckets for a
    file-order client: each request at the first instant both hold its charge
    (see the module); exact. TwoLimitError for a charge no bucket can hold."""
    check_fits(requests, buckets.tokens.capacity, "the token bucket holds")
    if not requests:
        return TwoLimitBound(0.0, 0.0, True, 0, 0, 0.0, "latency", "no requests", bucket=True)
    r, t = buckets.requests, buckets.tokens
    sends = earliest_sends([(1, p.charge) for p in requests], (r, t))
    mean, stdev = latest_finish(
        [(at, p.max_tokens) for at, p in zip(sends, requests, strict=True)], latency
    )
    charged = sum(p.charge for p in requests)
    # A bucket that starts full admits at most capacity + rate x t by t.
    by_requests = (len(requests) - r.capacity) / r.rate
    by_tokens = (charged - t.capacity) / t.rate
    if max(by_requests, by_tokens) <= 0:
        binding = "latency"
    else:
        binding = "requests" if by_requests >= by_tokens else "tokens"
    shortest = min(latency.mean(p.max_tokens) for p in requests)
    lower = max(0.0, by_requests, by_tokens) + shortest
    basis = (
        f"{len(requests)} requests, {charged} tokens charged, buckets of {r.capacity} "
        f"requests and {t.capacity} tokens refilled at {r.rate * MINUTE:g} and "
        f"{t.rate * MINUTE:g} a minute; earliest admission in file order: last send at "
        f"t = {sends[-1]:.2f} s"
    )
    return TwoLimitBound(mean, stdev, True, 0, 0, min(lower, mean), binding, basis, bucket=True)


# -- a bench's scenario ----------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def scenario_plan(scenario: BenchScenario) -> tuple[tuple[Planned, ...], Windows]:
    """An openai scenario's request set as the limits see it, and its windows (its
    RPM and TPM, the server's defaults where unset). Read once per scenario: every
    client's config, bound and model asks for it."""
    given = OpenAILimits.of(scenario)
    limits = Windows.per_minute(given.rpm, given.tpm)
    return tuple(plan_requests(request_bodies(scenario))), limits


def scenario_buckets(scenario: BenchScenario) -> Buckets:
    """An openai scenario's two buckets under `--strategy token-bucket` (its RPM and
    TPM, the server's defaults where unset; a minute's worth each)."""
    given = OpenAILimits.of(scenario)
    return Buckets.per_minute(given.rpm, given.tpm)


@functools.lru_cache(maxsize=16)
def scenario_bound(scenario: BenchScenario) -> TwoLimitBound:
    """The two-limit bound of an openai scenario: its request set under its limits,
    the server's latency model and strategy. Worked out once per scenario (under the
    counter it is 64 schedules; each client's config and theory ask for it)."""
    planned, limits = scenario_plan(scenario)
    if scenario.limit.strategy == "token-bucket":
        return bucket_bound(planned, scenario_buckets(scenario), LLMLatency())
    return two_limit_bound(planned, limits, LLMLatency(), scenario.limit.strategy)
