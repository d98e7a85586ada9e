"""The best possible makespan of a request set under Gemini's three quotas, across days.

The Gemini endpoint (`mock_server.endpoints.gemini.quotas`) admits a request
only if the minute it arrives in has room for one more request (RPM) and for
its input tokens (ITPM), and its day has room for one more request (RPD).
Minutes are aligned on the server's clock, which starts with the batch (the
bench resets the server before each run): minute k is `[60k, 60k + 60)`
scenario seconds. Days are aligned on midnight Pacific: the batch starts
`day_start` into day 0, so day 0 ends at `first_end` and day j >= 1 opens at
`first_end + (j - 1) x day` (`GeminiLimits`).

**The schedule.** In file order, each request at the earliest instant at
which its minute and its day both have room, given every earlier send: the
start of the first minute with room, unless its day is full, in which case
the next day's opening (and from there the first minute with room). The
quotas are aligned windows, whose boundaries do not move with the sends, so
sending a request earlier never leaves less room for a later one: no client
that sends in file order and is never refused sends any request earlier.
Exact, for file order and the fixed window (the endpoint's default).

**A batch larger than a day's quota** needs `ceil(n / RPD)` days at least
(with RPD in every day, day 0 included): its last requests go when the last
of them opens. The bound says how many days the schedule spans.

**The lower bound, for any order**: the last send is no earlier than the
opening of day `ceil(n / RPD) - 1`, nor than minute `K - 1`, K =
`max(ceil(n / RPM), ceil(input tokens / ITPM))`, plus the shortest expected
latency.

**Latency** is the server's LLM model (`mock_server.llm_latency`), as on the
OpenAI-compatible endpoint: the expected latest finish of the schedule, with
its standard deviation (`bench.theory.latest_finish.latest_finish`).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.endpoints.gemini.limits import GeminiLimits
from bench.records.scenario import Scenario
from bench.theory.latest_finish import LLMLatency, latest_finish
from clients.infra.gemini_request_set import max_output_tokens, prompt_tokens
from mock_server.endpoints.gemini.settings import DEFAULTS, OUTPUT_TOKEN_LIMIT
from mock_server.vocabulary import MINUTE, RatebenchError

#: The server's latency model for Gemini's answers.
LATENCY = LLMLatency(DEFAULTS.ttft, DEFAULTS.token_time)


class QuotaError(RatebenchError):
    """A request set no schedule can finish (input tokens above the ITPM)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One request as the quotas and the latency see it: its input tokens (its charge
    against the ITPM) and the most output tokens it may be answered."""

    charge: int
    max_tokens: int


def plan_request(body: Mapping[str, Any]) -> Planned:
    """A body's input tokens as the server counts them, and its maxOutputTokens."""
    answer = max_output_tokens(body) or DEFAULTS.default_max_output_tokens
    return Planned(prompt_tokens(body), answer)


def check_fits(requests: Sequence[Planned], limits: GeminiLimits) -> None:
    for index, r in enumerate(requests):
        if r.charge > limits.itpm:
            raise QuotaError(
                f"request {index} has {r.charge} input tokens, more than the {limits.itpm} a "
                "minute allows (--itpm): the server refuses it with no wait, so no schedule "
                "finishes; raise --itpm or write smaller requests"
            )
        if r.max_tokens > OUTPUT_TOKEN_LIMIT:
            raise QuotaError(
                f"request {index} asks for maxOutputTokens {r.max_tokens}, above the model's "
                f"{OUTPUT_TOKEN_LIMIT}: the server refuses it, so no schedule finishes"
            )


def earliest_sends(requests: Sequence[Planned], limits: GeminiLimits) -> list[float]:
    """When each request goes in the schedule of the module, scenario seconds from
    the batch's start."""
    check_fits(requests, limits)
    per_minute: Counter[int] = Counter()
    tokens: Counter[int] = Counter()
    per_day: Counter[int] = Counter()
    sends: list[float] = []
    t = 0.0
    for r in requests:
        while True:
            day = limits.day_of(t)
            if per_day[day] >= limits.rpd:
                t = limits.opens(day + 1)
                continue
            minute = math.floor(t / MINUTE + 1e-12)
            if per_minute[minute] < limits.rpm and tokens[minute] + r.charge <= limits.itpm:
                break
            t = (minute + 1) * MINUTE
        per_minute[minute] += 1
        tokens[minute] += r.charge
        per_day[day] += 1
        sends.append(t)
    return sends


@dataclass(frozen=True, slots=True)
class QuotaBound:
    """What theory says of a request set under the three quotas, in scenario seconds.

    `mean`, `stdev`: the expected makespan of the schedule (exact, file order);
    `days`: the days it spans; `fewest_days`: `ceil(n / RPD)`; `lower`: the bound for
    any order; `binding`: which quota held it longest ("day", "requests", "tokens" or
    "latency"); `last_send`: when its last request goes.
    """

    mean: float
    stdev: float
    days: int
    fewest_days: int
    lower: float
    binding: str
    last_send: float
    basis: str

    def words(self) -> str:
        return (
            f"{self.mean:.2f} s ± {self.stdev:.2f} (exact, file order; {self.days} "
            f"day{'s' if self.days != 1 else ''}, {self.binding} bind)"
        )

    def lower_words(self) -> str:
        return (
            f"any order needs {self.fewest_days} day{'s' if self.fewest_days != 1 else ''} "
            f"and its minutes: lower bound {self.lower:.2f} s"
        )


def quota_bound(
    requests: Sequence[Planned], limits: GeminiLimits, latency: LLMLatency = LATENCY
) -> QuotaBound:
    """The best possible makespan of `requests` under `limits` for a file-order client."""
    if not requests:
        return QuotaBound(0.0, 0.0, 0, 0, 0.0, "latency", 0.0, "no requests")
    sends = earliest_sends(requests, limits)
    mean, stdev = latest_finish(
        [(t, r.max_tokens) for t, r in zip(sends, requests, strict=True)], latency
    )
    n = len(requests)
    charged = sum(r.charge for r in requests)
    fewest_days = math.ceil(n / limits.rpd)
    k = max(math.ceil(n / limits.rpm), math.ceil(charged / limits.itpm))
    shortest = min(latency.mean(r.max_tokens) for r in requests)
    lower = max(limits.opens(fewest_days - 1), (k - 1) * MINUTE) + shortest
    days = limits.day_of(sends[-1]) + 1
    binding = _binding(requests, sends, limits)
    basis = (
        f"{n} requests, {charged:,} input tokens, {limits.words()}; earliest admission in "
        f"file order: last send at t = {sends[-1]:.2f} s, in day {days - 1}"
    )
    if days > 1:
        opened = ", ".join(f"{limits.opens(d):.0f}" for d in range(1, days))
        basis += f" (days open at t = {opened} s)"
    return QuotaBound(mean, stdev, days, fewest_days, min(lower, mean), binding, sends[-1], basis)


def _binding(requests: Sequence[Planned], sends: Sequence[float], limits: GeminiLimits) -> str:
    """Which quota held the schedule: the day's when some day before the last filled
    up (the batch waited for a day to open), else the minute's requests or tokens (or
    none: everything went at once)."""
    if sends[-1] == 0:
        return "latency"
    per_day = Counter(limits.day_of(t) for t in sends)
    if any(per_day[d] >= limits.rpd for d in range(limits.day_of(sends[-1]))):
        return "day"
    per_minute = Counter(math.floor(t / MINUTE + 1e-12) for t in sends)
    full = sum(1 for count in per_minute.values() if count >= limits.rpm)
    return "requests" if 2 * full >= len(per_minute) else "tokens"


# -- a bench's scenario ----------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def scenario_plan(scenario: Scenario) -> tuple[Planned, ...]:
    """A gemini scenario's request set as the quotas see it (read once per scenario)."""
    from bench.endpoints.gemini.requests import request_bodies

    return tuple(plan_request(body) for body in request_bodies(scenario))


@functools.lru_cache(maxsize=16)
def scenario_bound(scenario: Scenario) -> QuotaBound:
    """The bound of a gemini scenario: its request set under its quotas and day."""
    return quota_bound(scenario_plan(scenario), GeminiLimits.of(scenario))
