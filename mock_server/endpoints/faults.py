"""Faults every LLM API can show, each answered in its provider's words.

Three flags, one group, read by every LLM API (each keeps its own count):

- `--overload-rate P`: each request, before its limits are asked, is
  answered with the provider's "overloaded" error with probability P (the
  service is busy for everyone: Anthropic's 529 `overloaded_error`,
  OpenAI's and Gemini's 503). It costs no budget.
- `--spend-limit N`: once a project has had N requests admitted by an API,
  every later request of that project to it is refused as the provider
  refuses when the money has run out (Anthropic's 429 `rate_limit_error`
  with `error.details.error_code: "enforced_spend_limit_reached"` and no
  `retry-after`; OpenAI's 429 `insufficient_quota`; Gemini's 402
  `RESOURCE_EXHAUSTED`, spent prepaid credits). Retrying never helps.
- `--stream-error-rate P`: an admitted stream, with probability P, stops
  halfway through its output with the provider's error event (the status
  was 200 long before).

An API plugs its words in as a `FaultShape` (three small functions) and
asks a `FaultInjector` at three points: before its limits
(`refusal`), when its limits refuse what `refusal` let through (`refused`),
and when a stream starts (`stream_fails`). The draws are seeded by `--seed` like the
latency: the overload draw per worker, in arrival order; the stream draw
of the k-th admitted request depends only on the seed and k.

The spend count is exact in one process. With `--workers N` on Redis it is
one counter for all workers, taken before the limits are asked and given
back when they refuse, so that a request refused by its limits costs no
spend; a request arriving in that instant may see the count one too high.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import redis

from mock_server.keys import limit_key
from mock_server.vocabulary import RatebenchError

Fault = Literal["overloaded", "spend-limit", "stream-error"]


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """The three faults, as the flags set them (all off by default)."""

    overload_rate: float = 0.0
    spend_limit: int | None = None
    stream_error_rate: float = 0.0

    def describe(self) -> str:
        parts = []
        if self.overload_rate:
            parts.append(f"overloaded {self.overload_rate:g}")
        if self.spend_limit is not None:
            parts.append(f"spend limit after {self.spend_limit} requests")
        if self.stream_error_rate:
            parts.append(f"stream errors {self.stream_error_rate:g}")
        return f", faults: {', '.join(parts)}" if parts else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "overload_rate": self.overload_rate,
            "spend_limit": self.spend_limit,
            "stream_error_rate": self.stream_error_rate,
        }


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The group, once on the server's parser (every LLM API reads it)."""
    group = parser.add_argument_group(
        "LLM faults",
        "Every LLM API answers them in its provider's words (see each API's group).",
    )
    group.add_argument(
        "--overload-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a request is answered with the provider's overloaded error "
        "before its limits are asked (Anthropic 529 overloaded_error, OpenAI and Gemini 503); "
        "it costs no budget (default: 0)",
    )
    group.add_argument(
        "--spend-limit",
        type=int,
        default=None,
        metavar="N",
        help="after N admitted requests of a project, refuse every later one as the provider "
        "does when the money has run out (Anthropic 429 with error_code "
        "enforced_spend_limit_reached and no retry-after, OpenAI 429 insufficient_quota, "
        "Gemini 402 RESOURCE_EXHAUSTED for spent prepaid credits); "
        "retrying never succeeds (default: no limit)",
    )
    group.add_argument(
        "--stream-error-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that an admitted stream stops halfway through its output with the "
        "provider's error event (default: 0)",
    )


def check_rate(flag: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise RatebenchError(f"{flag} {value:g} must be a probability from 0 to 1, e.g. 0.1")
    return value


def fault_settings_from_args(args: argparse.Namespace) -> FaultSettings:
    """The faults the flags ask for; RatebenchError for a value none can mean."""
    spend = args.spend_limit
    if spend is not None and spend < 0:
        raise RatebenchError(f"--spend-limit {spend} must be 0 or more admitted requests")
    return FaultSettings(
        overload_rate=check_rate("--overload-rate", args.overload_rate),
        spend_limit=spend,
        stream_error_rate=check_rate("--stream-error-rate", args.stream_error_rate),
    )


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """An error as an API sends it: status, JSON body, headers of its own."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class FaultShape:
    """How one provider words the faults: `overloaded()` and `spend_limit()` are
    whole answers; `stream_error()` the bytes that end a stream."""

    overloaded: Callable[[], ErrorAnswer]
    spend_limit: Callable[[], ErrorAnswer]
    stream_error: Callable[[], bytes]


class FaultInjector:
    """One API's faults on one worker (see the module).

    `api` names its counters; `client`: the Redis that keeps the spend count
    for every worker (None: this process's memory).
    """

    def __init__(
        self,
        settings: FaultSettings,
        shape: FaultShape,
        api: str,
        seed: int | None,
        worker: int | None,
        client: redis.Redis | None,
        prefix: str,
    ) -> None:
        self.settings = settings
        self.shape = shape
        self.api = api
        self.client = client
        self.prefix = prefix
        self.worker = worker
        self.spent: dict[str, int] = {}
        self.reset(seed)

    def __repr__(self) -> str:
        return f"<FaultInjector {self.api}{self.settings.describe() or ', none'}>"

    def _key(self, project: str) -> str:
        return f"{self.prefix}:{self.api}-spend/{limit_key(project)}"

    def reset(self, seed: int | None) -> None:
        self.seed = seed
        self.overload_rng = random.Random(
            None if seed is None else f"ratebench-overload:{seed}:{self.worker}"
        )
        self.spent.clear()
        if self.client is not None and self.settings.spend_limit is not None:
            keys = list(self.client.scan_iter(f"{self.prefix}:{self.api}-spend/*"))
            if keys:
                self.client.delete(*keys)

    def refusal(self, project: str) -> tuple[Fault, ErrorAnswer] | None:
        """Before the limits: the fault that answers this request, if any. A
        request that passes holds a unit of its project's spend, kept if its
        limits admit it and given back by `refused` if not."""
        limit = self.settings.spend_limit
        if limit is not None and self._take(project) > limit:
            self._give_back(project)
            return "spend-limit", self.shape.spend_limit()
        rate = self.settings.overload_rate
        if rate and self.overload_rng.random() < rate:
            if limit is not None:
                self._give_back(project)
            return "overloaded", self.shape.overloaded()
        return None

    def refused(self, project: str) -> None:
        """Its limits refused the request `refusal` let through: no spend."""
        if self.settings.spend_limit is not None:
            self._give_back(project)

    def stream_fails(self, seed: int | None, k: int, tokens: int) -> int | None:
        """After how many output tokens the k-th admitted request's stream
        fails (None: it does not); `seed` is the draws' current seed."""
        rate = self.settings.stream_error_rate
        if not rate:
            return None
        rng = random.Random(None if seed is None else f"ratebench-stream-error:{seed}:{k}")
        return math.floor(tokens / 2) if rng.random() < rate else None

    def _take(self, project: str) -> int:
        if self.client is None:
            self.spent[project] = self.spent.get(project, 0) + 1
            return self.spent[project]
        return int(self.client.incr(self._key(project)))

    def _give_back(self, project: str) -> None:
        if self.client is None:
            self.spent[project] -= 1
        else:
            self.client.decr(self._key(project))
