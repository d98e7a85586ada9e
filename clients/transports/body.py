"""One bounded reader for every HTTP body, whichever library reads it.

A body is collected chunk by chunk under a ceiling in bytes (`MAX_BODY`) and,
where the transport gives one, a wall-clock deadline. The mock server's
largest answer is a few kilobytes (`/chat`'s JSON, one chat completion), so
a body past the ceiling is a misbehaving server: the attempt ends as an
`error` at once instead of filling the client's memory. Every attempt's time
is bounded by the transport (`--request-timeout`, body included): aiohttp's
total timeout, the requests transport's watchdog.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

#: The largest body any attempt may read, in bytes: 1 MiB, a few hundred times
#: the largest answer the mock server gives. A longer body is an `error`.
MAX_BODY = 1 << 20
#: Bytes asked for per read: small enough that the ceiling is checked often.
CHUNK = 1 << 16


class BodyError(Exception):
    """A body that broke its bound; `outcome` is how the attempt is recorded."""

    outcome: str = "error"


class BodyTooLarge(BodyError):
    """More bytes than `MAX_BODY` (declared in Content-Length, or read)."""


class BodyTooSlow(BodyError):
    """The body was still arriving when the attempt's time ran out."""

    outcome = "timeout"


class BoundedBody:
    """Collects one body: at most `limit` bytes, by `deadline` (on `clock`).

    `declared` refuses a Content-Length over the ceiling before any read;
    `feed` takes each chunk as it arrives and raises a `BodyError` once the
    body is over the ceiling or past its deadline, so the caller stops
    reading and closes the connection.
    """

    def __init__(
        self,
        limit: int = MAX_BODY,
        deadline: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.deadline = deadline
        self.clock = clock
        self._chunks: list[bytes] = []
        self._size = 0

    def __repr__(self) -> str:
        return f"<BoundedBody {self._size}/{self.limit} bytes>"

    def declared(self, content_length: str | None) -> None:
        """Refuse at once a body whose Content-Length is over the ceiling."""
        if content_length is None:
            return
        try:
            size = int(content_length)
        except ValueError:
            return  # the HTTP library rejects a malformed length itself
        if size > self.limit:
            raise BodyTooLarge(f"Content-Length {size} is over the {self.limit}-byte ceiling")

    def feed(self, chunk: bytes) -> None:
        """Add `chunk`; BodyTooLarge past the ceiling, BodyTooSlow past the deadline."""
        self._size += len(chunk)
        if self._size > self.limit:
            raise BodyTooLarge(f"body over the {self.limit}-byte ceiling")
        self._chunks.append(chunk)
        if self.clock() > self.deadline:
            raise BodyTooSlow(f"body still arriving after the attempt's time ({self._size} bytes)")

    def json(self) -> object:
        """The body decoded as JSON; ValueError if it is not."""
        return json.loads(b"".join(self._chunks))
