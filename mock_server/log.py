"""One request as the server saw it: the record of the arrival log.

Its own module so that the app (which fills entries in) and the Redis store
(which shares them between workers) both import it, and neither imports the
other. It also encodes the log for `GET /log`: a few hundred entries at a
time, so that a long log never holds the event loop for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from starlette.types import Message, Receive, Send


@dataclass(slots=True)
class LogEntry:
    """One request as the server saw it: `/chat`'s whole entry, and the fields
    every API's entry has (an API may add its own, as `OpenAILogEntry` does).
    Times are raw `time.monotonic()`."""

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
    # When the last byte of the response was handed to the socket, the client
    # still connected; None if it never was (see `disconnected`).
    left: float | None = None
    # With --workers N: which worker (0..N-1) served it, and its number k among
    # the requests the whole server accepted (it got the k-th latency draw).
    worker: int | None = None
    rank: int | None = None
    # When the server saw the client go before the whole answer was handed over.
    disconnected: float | None = None
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
            # A server drops what is sent to a client that has gone: that answer never left.
            if entry.disconnected is None:
                entry.left = time.monotonic()
            if sink is not None:
                sink(entry)

    return send_and_stamp


@contextlib.asynccontextmanager
async def watch_client(
    entry: LogEntry, receive: Receive, sink: Callable[[LogEntry], None] | None
) -> AsyncIterator[Receive]:
    """Stamp `entry.disconnected` when the client goes before its answer has
    been handed over, even while the endpoint is only sleeping; yields the
    `receive` to hand the app instead of the server's.

    A task reads the server's `receive` for the whole request: the body,
    passed on one message at a time as the app asks (so the server's flow
    control still holds), then the `http.disconnect` that the server sends
    when the client goes (uvicorn also sends it once the response is
    complete: that one has `left` set, and is no departure). The app's own
    later calls (a streaming response listens for the client going) get the
    same `http.disconnect`.
    """
    pending: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
    ended: list[Message] = []

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if entry.left is None and entry.disconnected is None:
                    entry.disconnected = time.monotonic()
                    if sink is not None:
                        sink(entry)
                ended.append(message)
                if pending.empty():
                    pending.put_nowait(message)
                return
            await pending.put(message)

    async def receive_for_app() -> Message:
        if ended and pending.empty():
            return ended[0]
        return await pending.get()

    watcher = asyncio.create_task(watch())
    try:
        yield receive_for_app
    finally:
        watcher.cancel()


# Entries encoded between two turns of the event loop: a few milliseconds' work.
ENCODE_STEP = 500


_FIELD_NAMES: dict[type[LogEntry], tuple[str, ...]] = {}


def field_names(kind: type[LogEntry]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


def entry_dict(entry: LogEntry | Mapping[str, Any], *, compact: bool) -> dict[str, Any]:
    """An entry as `GET /log` shows it: every field, or (`compact`) only those
    that have a value (a reader takes a missing field for null)."""
    items: Iterable[tuple[str, Any]] = (
        entry.items()
        if isinstance(entry, Mapping)
        else ((name, getattr(entry, name)) for name in field_names(type(entry)))
    )
    if compact:
        return {name: value for name, value in items if value is not None}
    return dict(items)


async def encode_log(
    head: Mapping[str, Any], entries: Sequence[LogEntry | Mapping[str, Any]], *, compact: bool
) -> AsyncIterator[bytes]:
    """`{**head, "entries": [...]}` as JSON, in pieces of `ENCODE_STEP` entries.

    Between two pieces the event loop serves other requests: a log of
    100,000 entries encoded at once held it for seconds. `entries` is a
    snapshot (a list of its own); an entry still in flight is encoded as it
    is when its piece comes.
    """
    opening = json.dumps({**head, "entries": []}, separators=(",", ":"))
    yield opening[: -len("]}")].encode()
    for start in range(0, len(entries), ENCODE_STEP):
        piece = [entry_dict(e, compact=compact) for e in entries[start : start + ENCODE_STEP]]
        text = json.dumps(piece, separators=(",", ":"))[1:-1]
        yield (text if start == 0 else "," + text).encode()
        await asyncio.sleep(0)
    yield b"]}"
