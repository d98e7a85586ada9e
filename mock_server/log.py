"""One `/chat` request as the server saw it: the record of the arrival log.

Its own module so that the app (which fills entries in) and the Redis store
(which shares them between workers) both import it, and neither imports the
other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Message, Send


@dataclass(slots=True)
class LogEntry:
    """One `/chat` request as the server saw it. Times are raw `time.monotonic()`."""

    seq: int
    arrival: float
    accepted: bool | None = None
    status: int | None = None
    decided: float | None = None  # when the limiter decided, same clock as `arrival`
    wall: float | None = None  # the same instant on time.time(), the clock limits reads
    # time.time() once the limiter had decided: the decision lies in [wall, wall_after]
    # (another thread, such as limits' expiry timer, can hold the GIL in between).
    wall_after: float | None = None
    window_reset: float | None = None  # time.time() at which the limiter's window resets
    drawn: float | None = None  # scenario seconds drawn, None if rejected
    latency: float | None = None  # wall seconds slept: drawn x time scale
    left: float | None = None  # when the last byte of the response was handed to the socket
    # With --workers N: which worker (0..N-1) served it, and its number k among
    # the requests the whole server accepted (it got the k-th latency draw).
    worker: int | None = None
    rank: int | None = None
    project: str | None = None  # with --api-key: whose budget it counted against


def stamped_send(
    entry: LogEntry,
    send: Send,
    sink: Callable[[LogEntry], None] | None,
) -> Send:
    """Wrap an ASGI `send` so that `entry` records the status and when the last
    byte left, and `sink` (the shared log, if any) sees both.

    Only the limiter's decision accepts a request (it sets `accepted`); a
    response without one (a 400, 401, 405, 413) counts as not accepted.
    """

    async def send_and_stamp(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry.status = int(message["status"])
            if entry.accepted is None:
                entry.accepted = False
            if sink is not None:
                # Before the status leaves: no client can hold an answer
                # that the shared log does not show yet.
                sink(entry)
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            entry.left = time.monotonic()
            if sink is not None:
                sink(entry)

    return send_and_stamp
