"""What one HTTP attempt came back with, whatever the HTTP library.

The transports (`clients.transports`) turn every attempt into a `Reply`,
never an exception; the request loop (`clients.infra.loop`) decides from it
whether to retry, and the limiters may learn from it (`Limiter.observe`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from clients.infra.records import Outcome


@dataclass(frozen=True, slots=True)
class Reply:
    """What one HTTP attempt came back with.

    `body` is the decoded JSON for an `ok` reply; `detail` says what went
    wrong otherwise (for debugging; the log lines follow the write-up and
    do not show it). `reopens_in` is, for a 429, the wall seconds the server
    said its window stays closed (see `reopens_in`), None if it did not say.

    `sent` is when the request reached the wire, in the run's seconds (the
    transport's own stamp, taken when the HTTP library wrote it to an open
    connection), None if it never did or the transport cannot tell; the
    request loop then keeps its own reading. `pool_wait` is the seconds the
    attempt waited for a connection (see `Attempt`). `final`: the server said
    retrying cannot succeed (a spend limit reached, a request too large, sent
    with `x-should-retry: false`), so the request loop gives up at once.
    """

    status: int | None
    outcome: Outcome
    body: object = None
    detail: str = ""
    reopens_in: float | None = None
    sent: float | None = None
    pool_wait: float = 0.0
    final: bool = False


def classify(status: int) -> Outcome:
    """200 is success, 429 the server's rate limit, anything else an error."""
    if status == 200:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "error"


def crashed(exc: Exception) -> Reply:
    """The reply for a `send` that raised: a bug in it must not lose the attempt's record."""
    return Reply(None, "error", detail=repr(exc))


def reopens_in(headers: Mapping[str, str]) -> float | None:
    """Wall seconds until a 429's window reopens, from the response headers.

    `X-RateLimit-Reset-After` (the mock server's, exact, fractional seconds)
    first; else `Retry-After` (RFC 9110: whole seconds; slowapi writes
    int(reset - now) + 1, so up to a second late); None if neither is a
    number >= 0. HTTP-date `Retry-After` values are not read.
    """
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None
