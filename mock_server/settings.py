"""The mock server's settings: parsed and checked once, at the edge.

`ServerSettings` holds what every API shares (the seed, the time scale,
workers, storage, keys, hardening) and each API's own settings by its name
(`mock_server.endpoints`); the checks of the flags they share live here.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from mock_server.keys import Keys
from mock_server.redact import redact
from mock_server.vocabulary import RatebenchError, Strategy, check_redis_window

#: Default cap on a request body: 1 MiB, about 260,000 tokens at 4 characters
#: a token, more than any model's context window.
MAX_BODY = 1024 * 1024
#: Default wall seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 10.0


#: What the server prints once it listens, before its address.
READY_PREFIX = "ratebench mock server listening on "

T = TypeVar("T")


class EndpointSettings(Protocol):
    """One API's settings, built from its flags (a frozen dataclass per API)."""

    @property
    def strategy(self) -> Strategy:
        """The limits strategy its limits are enforced with."""
        ...

    def describe(self) -> str:
        """One phrase for the line the server prints once it listens."""
        ...

    def as_dict(self) -> dict[str, Any]:
        """Its entries in the settings `GET /log` shows."""
        ...


@dataclass(frozen=True, slots=True)
class Rate:
    """A limit of `amount` requests per `window` scenario seconds."""

    text: str
    amount: int
    window: float

    @property
    def per_second(self) -> float:
        return self.amount / self.window


def new_redis_prefix() -> str:
    """The start of every Redis key one server writes, new for each server: it
    deletes only keys that start with it, so that another server or
    application using the same database keeps its own."""
    return f"ratebench:server:{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What every API of the server shares, and each API's own settings.

    `endpoints`: each registered API's settings by its name, in the
    registry's order (`mock_server.endpoints.ENDPOINTS`).
    """

    endpoints: Mapping[str, EndpointSettings] = field(default_factory=dict)
    seed: int | None = None
    time_scale: float = 1.0
    workers: int = 1
    storage: str = "memory://"
    log: str | None = None
    # The keys the server issued (--api-key), each counting against its
    # project's budget; none: one budget for every request (see keys).
    keys: Keys = field(default_factory=Keys)
    max_body: int = MAX_BODY  # bytes a request body may have (see hardening)
    header_timeout: float = HEADER_TIMEOUT  # wall seconds (see hardening)
    # Made once, before the workers fork, so that they all share it.
    redis_prefix: str = field(default_factory=new_redis_prefix)

    def endpoint(self, name: str, kind: type[T]) -> T:
        """The settings of the API `name`, which are a `kind`."""
        found = self.endpoints[name]
        if not isinstance(found, kind):
            raise TypeError(f"the settings of {name} are a {type(found).__name__}, not a {kind}")
        return found

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
        text = f"seed {self.seed}, time scale {self.time_scale:g}"
        if self.workers > 1 or self.shared:
            text += f", {self.workers} workers, storage {redact(self.storage)}"
            if self.log is not None:
                text += f", log {redact(self.log)}"
        if self.keys.required:
            text += f", API keys of {len(self.keys.names())} projects"
        return "; ".join([*(e.describe() for e in self.endpoints.values()), text])

    def as_dict(self) -> dict[str, Any]:
        """The settings `GET /log` shows: each API's entries, then the server's."""
        shown: dict[str, Any] = {}
        for endpoint in self.endpoints.values():
            shown.update(endpoint.as_dict())
        return {
            **shown,
            "seed": self.seed,
            "time_scale": self.time_scale,
            "workers": self.workers,
            "storage": redact(self.storage),
            # Whether a key is needed, and whose budgets there are; never the keys.
            "api_keys": self.keys.required,
            "projects": list(self.keys.names()),
        }


def parse_limit(text: str) -> Rate:
    """A limits rate string (`2/second`, `10 per 5 seconds`) -> Rate."""
    # Imported here, not above: the limits library takes a tenth of a second to
    # import, and every client process imports the settings through the
    # endpoints' registry without ever parsing a rate.
    from limits import parse as parse_rate

    try:
        item = parse_rate(text)
    except ValueError:
        raise RatebenchError(
            f"rate {text!r} is not a rate limit: use N/UNIT, e.g. 2/second or 10/minute"
        ) from None
    if item.amount < 1:
        raise RatebenchError(f"rate {text!r} allows no request: the count must be at least 1")
    if re.search(r"(?:/|\bper)\s*0+(?:\.0*)?\s*[a-z]", text.lower()):
        # limits reads a window of 0 units as 1 unit: refuse it rather than
        # quietly run a limit nobody asked for.
        raise RatebenchError(
            f"rate {text!r} has a window of 0: use a positive window, e.g. 2/second or 10/5seconds"
        )
    return Rate(text=text.strip(), amount=item.amount, window=float(item.get_expiry()))


def check_workers(value: int) -> int:
    if not 1 <= value <= 64:
        raise RatebenchError(f"--workers {value} must be between 1 and 64 processes")
    return value


def check_shared(workers: int, storage: str, log: str | None) -> str | None:
    """Several workers need one place for the log; it can only be Redis."""
    if log is not None and not log.startswith("redis://"):
        raise RatebenchError(f"--log {redact(log)!r} must be a Redis URL: redis://HOST:PORT/DB")
    if workers > 1 and not storage.startswith("redis://") and log is None:
        raise RatebenchError(
            f"--workers {workers} keeps one log for all workers in Redis: pass --storage "
            "redis://HOST:PORT/DB (one limit for all), or --log redis://HOST:PORT/DB to keep "
            "memory:// counters per worker (the pitfall)"
        )
    return log


def check_storage_uri(uri: str) -> str:
    """`memory://` (each worker its own counters) or `redis://HOST:PORT/DB` (one
    limit shared by all workers)."""
    if uri != "memory://" and not uri.startswith("redis://"):
        raise RatebenchError(
            f"--storage {redact(uri)!r} is not supported: use memory:// or redis://HOST:PORT/DB"
        )
    return uri


def check_storage(uri: str, rate: Rate, time_scale: float) -> str:
    """`uri` if it can hold `rate` at `time_scale`: a Redis window must be whole
    milliseconds."""
    if check_storage_uri(uri).startswith("redis://"):
        check_redis_window(rate.window, time_scale, "the limit's window", rate.text)
    return uri
