"""The mock server's settings: parsed and checked once, at the edge."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from limits import parse as parse_rate

from clients.config import MAX_TIME_SCALE
from mock_server.keys import Keys
from mock_server.redact import redact

if TYPE_CHECKING:
    from mock_server.openai_settings import OpenAISettings

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


#: Default cap on a request body: 1 MiB, about 260,000 tokens at 4 characters
#: a token, more than any model's context window.
MAX_BODY = 1024 * 1024
#: Default wall seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 10.0


class SettingsError(ValueError):
    """A setting no server can run with; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Latency:
    """The response time drawn for each accepted request, in scenario seconds.

    Whole-number bounds draw `random.randint(low, high)` whole seconds, as the
    write-up does; fractional bounds draw `random.uniform(low, high)`.
    """

    low: float
    high: float

    @property
    def whole_seconds(self) -> bool:
        return float(self.low).is_integer() and float(self.high).is_integer()

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else str(x)

        return f"{fmt(self.low)}-{fmt(self.high)}"


@dataclass(frozen=True, slots=True)
class Rate:
    """A limit of `amount` requests per `window` scenario seconds."""

    text: str
    amount: int
    window: float

    @property
    def per_second(self) -> float:
        return self.amount / self.window


@dataclass(frozen=True, slots=True)
class Fault:
    """Faults to inject, for testing how clients and the bench cope.

    `error_rate`: probability that an accepted request answers with an error
    instead of "hello world": a 500 (`error_kind` "500"), or a 200 whose body
    is an HTML page instead of JSON (`error_kind` "garbage"). `stall_after`:
    after this many accepted requests, every further accepted request hangs
    (never answers) - a server that accepts but stalls.
    """

    error_rate: float = 0.0
    error_kind: str = "500"
    stall_after: int | None = None


def _default_openai() -> OpenAISettings:
    # Imported here: openai_settings builds on this module's Latency and SettingsError.
    from mock_server.openai_settings import OpenAISettings

    return OpenAISettings()


def new_redis_prefix() -> str:
    """The start of every Redis key one server writes, new for each server: it
    deletes only keys that start with it, so that another server or
    application using the same database keeps its own."""
    return f"ratebench:server:{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    rate: Rate
    strategy: Strategy = "fixed-window"
    latency: Latency = Latency(2, 5)
    seed: int | None = None
    time_scale: float = 1.0
    fault: Fault = Fault()
    workers: int = 1
    storage: str = "memory://"
    log: str | None = None
    openai: OpenAISettings = field(default_factory=_default_openai)
    # The keys the server issued (--api-key), each counting against its
    # project's budget; none: one budget for every request (see keys).
    keys: Keys = field(default_factory=Keys)
    max_body: int = MAX_BODY  # bytes a request body may have (see hardening)
    header_timeout: float = HEADER_TIMEOUT  # wall seconds (see hardening)
    # Made once, before the workers fork, so that they all share it.
    redis_prefix: str = field(default_factory=new_redis_prefix)

    @property
    def shared_uri(self) -> str | None:
        """The Redis that keeps the log, the latency draw and /reset common to
        all workers: the limiter's own, or `--log`'s; None keeps them in memory."""
        return self.storage if self.storage.startswith("redis://") else self.log

    @property
    def shared(self) -> bool:
        return self.shared_uri is not None

    def scaled(self, seconds: float) -> float:
        """Scenario seconds to wall-clock seconds."""
        return seconds * self.time_scale

    def describe(self) -> str:
        text = (
            f"limit {self.rate.text} ({self.strategy}), latency {self.latency} s, "
            f"seed {self.seed}, time scale {self.time_scale:g}"
        )
        if self.workers > 1 or self.shared:
            text += f", {self.workers} workers, storage {redact(self.storage)}"
            if self.log is not None:
                text += f", log {redact(self.log)}"
        if self.keys.required:
            text += f", API keys of {len(self.keys.names())} projects"
        return f"{text}; {self.openai.describe()}"


_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$")

#: The longest response time a latency model may draw, in scenario seconds. No
#: API takes an hour to answer; past it a slip of the keyboard (or 400 digits,
#: which read as infinity) only makes runs that never end and draws that are NaN.
MAX_LATENCY = 3600.0


def shown(text: str, width: int = 24) -> str:
    """`text` quoted, cut to `width` characters for an error line."""
    return repr(text) if len(text) <= width else repr(text[:width] + "...")


def parse_latency(text: str) -> Latency:
    """`"2-5"` -> Latency(2, 5); `"3"` -> Latency(3, 3); at most MAX_LATENCY seconds."""
    match = _LATENCY.match(text)
    if not match:
        raise SettingsError(
            f"latency {shown(text)} is not a range of seconds: use LOW-HIGH, e.g. 2-5, "
            "or one number"
        )
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) is not None else low
    if not max(low, high) <= MAX_LATENCY:  # also false for infinity
        raise SettingsError(
            f"latency {shown(text)} is more than {MAX_LATENCY:g} seconds (an hour) per "
            "request: give seconds, e.g. 2-5 or 0.2-0.8"
        )
    if low > high:
        raise SettingsError(f"latency {text!r} is inverted: write the lower bound first, e.g. 2-5")
    return Latency(low, high)


def parse_limit(text: str) -> Rate:
    """A limits rate string (`2/second`, `10 per 5 seconds`) -> Rate."""
    try:
        item = parse_rate(text)
    except ValueError:
        raise SettingsError(
            f"rate {text!r} is not a rate limit: use N/UNIT, e.g. 2/second or 10/minute"
        ) from None
    if item.amount < 1:
        raise SettingsError(f"rate {text!r} allows no request: the count must be at least 1")
    if re.search(r"(?:/|\bper)\s*0+(?:\.0*)?\s*[a-z]", text.lower()):
        # limits reads a window of 0 units as 1 unit: refuse it rather than
        # quietly run a limit nobody asked for.
        raise SettingsError(
            f"rate {text!r} has a window of 0: use a positive window, e.g. 2/second or 10/5seconds"
        )
    return Rate(text=text.strip(), amount=item.amount, window=float(item.get_expiry()))


def check_time_scale(value: float) -> float:
    """`value` if it is a time scale a server and a bench can run at: above 0, at
    most MAX_TIME_SCALE."""
    if not (math.isfinite(value) and 0 < value <= MAX_TIME_SCALE):
        raise SettingsError(
            f"time scale {value:g} must be a number above 0 and at most {MAX_TIME_SCALE:g}, "
            "e.g. 1 for real time or 0.1 to run ten times faster"
        )
    return value


def check_strategy(text: str) -> Strategy:
    if text not in STRATEGIES:
        raise SettingsError(f"strategy {text!r} is unknown: use one of {', '.join(STRATEGIES)}")
    return text  # type: ignore[return-value]


def check_workers(value: int) -> int:
    if not 1 <= value <= 64:
        raise SettingsError(f"--workers {value} must be between 1 and 64 processes")
    return value


def check_shared(workers: int, storage: str, log: str | None) -> str | None:
    """Several workers need one place for the log; it can only be Redis."""
    if log is not None and not log.startswith("redis://"):
        raise SettingsError(f"--log {redact(log)!r} must be a Redis URL: redis://HOST:PORT/DB")
    if workers > 1 and not storage.startswith("redis://") and log is None:
        raise SettingsError(
            f"--workers {workers} keeps one log for all workers in Redis: pass --storage "
            "redis://HOST:PORT/DB (one limit for all), or --log redis://HOST:PORT/DB to keep "
            "memory:// counters per worker (the pitfall)"
        )
    return log


def check_storage(uri: str, rate: Rate, time_scale: float) -> str:
    """`memory://` (each worker its own counters) or `redis://HOST:PORT/DB` (one
    limit shared by all workers); a Redis window must be whole milliseconds."""
    if uri == "memory://":
        return uri
    if not uri.startswith("redis://"):
        raise SettingsError(
            f"--storage {redact(uri)!r} is not supported: use memory:// or redis://HOST:PORT/DB"
        )
    window_ms = rate.window * time_scale * 1000
    if round(window_ms) < 1 or abs(window_ms - round(window_ms)) > 1e-6:
        raise SettingsError(
            f"with Redis storage the limit's window times the time scale must be a whole "
            f"number of milliseconds (Redis expires keys to the millisecond): {rate.text} at "
            f"time scale {time_scale:g} is {window_ms:g} ms; pick a time scale such as 0.1"
        )
    return uri
