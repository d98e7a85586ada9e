"""The best possible makespan of a request set under Anthropic's three token buckets.

The Messages endpoint admits a request only if its three buckets hold what
it needs (`mock_server.endpoints.anthropic`): one request (RPM), its input
tokens as `count_tokens` counts them (ITPM), and on the output bucket
(OTPM) either its `max_tokens` (`--otpm-charge max-tokens`: needed and
charged at admission) or one token (`produced`, the default: nothing is
charged at admission, and the tokens the answer really produced are charged
once produced, whatever the bucket then holds, so its level may go below
zero). Each bucket holds a minute's worth, starts full and refills
continuously at its per-minute rate; a refused request costs nothing.

**Output charged at `max_tokens`: exact.** Every charge is known before
the batch starts and made at admission, so the earliest schedule of
`bench.theory.bucket_schedule` holds with three buckets as with two: each
request, in file order, at the first instant every bucket holds its costs
(1, its input, its `max_tokens`); no file-order client that is never
refused sends any request earlier (the argument there is per bucket). The
makespan is the expected latest answer over the server's latency draws
(`bench.endpoints.openai.bound.latest_finish`, the same LLM model).

**Output counted as produced: what the bound assumes.** The output bucket
is charged at each answer's end with what the answer produced, which the
server draws (uniform on 1..max_tokens) and nobody knows at admission. The
earliest schedule is then the server's own rule followed greedily: each
request, in file order, at the first instant the requests and input buckets
hold its costs and the output bucket holds one token, counting every output
charged by then (the answers that ended before that instant). Charging
earlier never lowers a bucket at a later instant, so on the same draws no
file-order client goes sooner; the bound is that schedule's makespan
averaged over `DRAWS` independent draws of every request's latency and
output, as the server draws them (`mock_server.llm_latency.draw`). It
assumes the draws are independent of the schedule (the server draws the
k-th admitted request's from its seed, whatever the order), and it is a
mean over draws, within about `stdev / sqrt(DRAWS)` of the exact expected
value, not a closed form. A client that waits for the output bucket to be
positive cannot know what the answers in flight will charge; this schedule
does not know either: it is the server's rule, not a prophet's.

**The lower bound, for any order**: a bucket that starts full admits at
most `capacity + rate x t` by t, so the last send is at t >= (what it is
charged - capacity) / rate, for requests and input tokens, and for output
tokens at `max_tokens`; under `produced` the output bucket is left out of
it (an answer still in flight at the last send is charged after it), plus
the shortest expected latency.
"""

from __future__ import annotations

import functools
import heapq
import json
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.records.scenario import Scenario as BenchScenario
from bench.records.scenario import request_bodies
from bench.theory.bucket_schedule import earliest_sends
from bench.theory.latest_finish import LLMLatency, latest_finish
from mock_server.llm_latency import draw
from mock_server.token_bucket import Bucket
from mock_server.vocabulary import MINUTE, RatebenchError

#: The server's latency model (the OpenAI-compatible endpoint's, from the same flags).
LATENCY = LLMLatency()
#: Draws of every request's latency and output the `produced` bound averages over.
DRAWS = 200
#: Names of the three buckets, in the order of every cost tuple.
NAMES = ("requests", "input tokens", "output tokens")


class ThreeBucketError(RatebenchError):
    """A request set no schedule can finish (a cost larger than a bucket holds)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One request as the buckets and the latency see it."""

    input_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class ThreeBucketBound:
    """What theory says of a request set under the three buckets, scenario seconds.

    `mean`, `stdev`: the earliest schedule's expected makespan (see the module)
    and its standard deviation over the latency draws; `exact`: True when output
    is charged at `max_tokens`; `draws`: how many draws `mean` averages (0: in
    closed form); `lower`: the bound for any order; `binding`: the bucket whose
    refill the set needs longest ("latency" if the starting fills hold it all);
    `last_send`: the schedule's last send (mean over the draws).
    """

    mean: float
    stdev: float
    exact: bool
    lower: float
    binding: str
    basis: str
    last_send: float
    draws: int = 0

    def words(self) -> str:
        if self.exact:
            how = (
                "exact, file order; each request at the first instant all three buckets "
                "hold its costs"
            )
        else:
            how = (
                f"file order, the server's own rule followed greedily, output charged as "
                f"produced: mean of {self.draws} draws"
            )
        return f"{self.mean:.2f} s ± {self.stdev:.2f} ({how}; {self.binding} bind)"

    def lower_words(self) -> str:
        return (
            "any order waits for what is charged beyond the buckets' capacity to refill: "
            f"lower bound {self.lower:.2f} s"
        )


def input_tokens(body: Mapping[str, Any]) -> int:
    """A Messages body's input tokens as the server counts them (what `count_tokens`
    answers: `mock_server.endpoints.anthropic.schema`, imported, never copied)."""
    from mock_server.endpoints.anthropic.schema import parse_count

    return parse_count(json.dumps(body).encode()).input_tokens()


def plan_requests(bodies: Iterable[Mapping[str, Any]]) -> list[Planned]:
    return [Planned(input_tokens(b), int(b.get("max_tokens") or 1)) for b in bodies]


def costs(planned: Planned, at_start: bool) -> tuple[int, int, int]:
    """What a request needs in each bucket to be admitted."""
    return (1, planned.input_tokens, planned.max_tokens if at_start else 1)


def check_fits(requests: Sequence[Planned], buckets: Sequence[Bucket], at_start: bool) -> None:
    """ThreeBucketError if some request can never be admitted."""
    for index, r in enumerate(requests):
        for name, bucket, cost in zip(NAMES, buckets, costs(r, at_start), strict=True):
            if cost > bucket.capacity:
                raise ThreeBucketError(
                    f"request {index} needs {cost:,} {name}, more than the bucket's "
                    f"{bucket.capacity:,} a minute: the server refuses it as too large, so "
                    f"no schedule finishes; raise the limit or write smaller requests"
                )


def produced_sends(
    requests: Sequence[Planned],
    buckets: Sequence[Bucket],
    durations: Sequence[float],
    outputs: Sequence[int],
) -> list[float]:
    """The earliest schedule when output is charged as produced (see the module):
    request i admitted at the first instant from the previous send on at which the
    requests and input buckets hold its costs and the output bucket one token,
    counting the outputs of the answers ended by then; its output (`outputs[i]`)
    charged `durations[i]` later."""
    r_bucket, i_bucket, o_bucket = buckets
    full = [0.0, 0.0, 0.0]  # each full at the batch's start
    pending: list[tuple[float, int]] = []  # (when charged, output tokens), a heap
    t = 0.0
    sends: list[float] = []
    for index, r in enumerate(requests):
        t = max(
            t,
            full[0] - (r_bucket.capacity - 1) / r_bucket.rate,
            full[1] - (i_bucket.capacity - r.input_tokens) / i_bucket.rate,
        )
        while True:
            while pending and pending[0][0] <= t:
                at, produced = heapq.heappop(pending)
                full[2] = o_bucket.charged(full[2], at, produced)
            fits = full[2] - (o_bucket.capacity - 1) / o_bucket.rate
            if fits <= t:
                break
            # Wait for the refill, unless an answer ends first and charges more.
            t = fits if not pending else min(fits, max(t, pending[0][0]))
        full[0] = r_bucket.charged(full[0], t, 1)
        full[1] = i_bucket.charged(full[1], t, r.input_tokens)
        heapq.heappush(pending, (t + durations[index], outputs[index]))
        sends.append(t)
    return sends


def _binding(
    requests: Sequence[Planned], buckets: Sequence[Bucket], at_start: bool
) -> tuple[str, float]:
    """The bucket whose refill the set needs longest, and that time (what the set
    charges beyond the capacity, over the rate; output at max_tokens, or at its
    expected output when counted as produced); "latency" if the fills hold it all."""
    charged = (
        len(requests),
        sum(r.input_tokens for r in requests),
        sum(r.max_tokens if at_start else (r.max_tokens + 1) / 2 for r in requests),
    )
    waits = [(c - b.capacity) / b.rate for c, b in zip(charged, buckets, strict=True)]
    worst = max(range(3), key=lambda k: waits[k])
    if waits[worst] <= 0:
        return "latency", 0.0
    return NAMES[worst], waits[worst]


def three_bucket_bound(
    requests: Sequence[Planned],
    limits: AnthropicLimits,
    latency: LLMLatency = LATENCY,
    draws: int = DRAWS,
    seed: int = 0,
) -> ThreeBucketBound:
    """The best possible makespan of `requests` under `limits`' three buckets, for a
    file-order client (see the module); ThreeBucketError for a request no bucket holds."""
    buckets = limits.buckets()
    at_start = limits.at_start
    check_fits(requests, buckets, at_start)
    if not requests:
        return ThreeBucketBound(0.0, 0.0, at_start, 0.0, "latency", "no requests", 0.0, 0)
    binding, _ = _binding(requests, buckets, at_start)
    # What any order waits for: requests and input always, output when known at admission.
    known = 3 if at_start else 2
    charged = (
        len(requests),
        sum(r.input_tokens for r in requests),
        sum(r.max_tokens for r in requests),
    )
    waits = [(c - b.capacity) / b.rate for c, b in zip(charged, buckets, strict=True)][:known]
    shortest = min(latency.mean(r.max_tokens) for r in requests)
    lower = max(0.0, *waits) + shortest
    basis = (
        f"{len(requests)} requests, {charged[1]:,} input tokens, {charged[2]:,} max_tokens; "
        f"buckets of {limits.rpm} requests, {limits.itpm:,} input and {limits.otpm:,} output "
        f"tokens refilled at as many a minute"
    )
    if at_start:
        sends = earliest_sends([costs(r, True) for r in requests], buckets)
        mean, stdev = latest_finish(
            [(at, r.max_tokens) for at, r in zip(sends, requests, strict=True)], latency
        )
        basis += f"; earliest admission in file order: last send at t = {sends[-1]:.2f} s"
        return ThreeBucketBound(mean, stdev, True, min(lower, mean), binding, basis, sends[-1])
    rng = random.Random(f"ratebench-anthropic-bound:{seed}")
    ends: list[float] = []
    lasts: list[float] = []
    for _ in range(draws):
        drawn = [draw(rng, latency.ttft, latency.token_time, r.max_tokens) for r in requests]
        durations = [d.duration for d in drawn]
        outputs = [d.completion_tokens[0] for d in drawn]
        sends = produced_sends(requests, buckets, durations, outputs)
        ends.append(max(s + d for s, d in zip(sends, durations, strict=True)))
        lasts.append(sends[-1])
    mean = statistics.fmean(ends)
    stdev = statistics.stdev(ends) if draws > 1 else 0.0
    last = statistics.fmean(lasts)
    basis += (
        f"; output charged as produced: the server's rule followed greedily in file order, "
        f"{draws} draws of latency and output (last send at t = {last:.2f} s on average)"
    )
    return ThreeBucketBound(mean, stdev, False, min(lower, mean), binding, basis, last, draws)


# -- a bench's scenario ----------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def scenario_plan(scenario: BenchScenario) -> tuple[Planned, ...]:
    """An anthropic scenario's request set as the buckets see it."""
    return tuple(plan_requests(request_bodies(scenario)))


@functools.lru_cache(maxsize=16)
def scenario_bound(scenario: BenchScenario) -> ThreeBucketBound:
    """The three-bucket bound of an anthropic scenario, worked out once per scenario."""
    return three_bucket_bound(scenario_plan(scenario), AnthropicLimits.of(scenario))


def refill_minutes(scenario: BenchScenario) -> float:
    """Minutes of refill the set needs beyond the starting fills (0 if none)."""
    planned = scenario_plan(scenario)
    limits = AnthropicLimits.of(scenario)
    _, wait = _binding(planned, limits.buckets(), limits.at_start)
    return wait / MINUTE
