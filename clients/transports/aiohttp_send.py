"""One HTTP attempt with aiohttp, turned into a `Reply` (never an exception).

`open_session` builds the one session of a run with its limits explicit: the
connection pool (`ClientConfig.pool`; aiohttp's own default of 100 is a
ceiling on requests in flight that no policy chose: by Little's law, at a
mean latency of 1.5 s, at most 100 / 1.5 = 67 requests per second, whatever
the server allows), the attempt's total time, and a request class that
stamps when each request got a connection and reached the wire
(`clients.transports.wire`).

The stamps are taken by `ClientRequest.send`, not by aiohttp's tracing: a
session with a `TraceConfig` sends all of its dozen signals for every
request, each an awaited call with its own parameters object, whether or not
anything listens, and that cost 30 µs of CPU a request (an eighth of the
whole attempt against a local server, `python -m bench load`). `send` is
called with the connection in hand, in the same step of the loop as the
tracing's "connection reused" or "connection created" signal (nothing awaits
in between), and for a GET it writes the request to the socket before it
returns, without awaiting: the two stamps fall where the tracing's did.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import aiohttp
from aiohttp.connector import Connection

from clients.config import ClientConfig
from clients.infra.attempts import Reply, classify, reopens_in
from clients.transports.body import CHUNK, BodyError, BoundedBody
from clients.transports.wire import Wire

#: The attempt's stamps, for the request class to find: aiohttp builds the
#: request inside `session.get`, in the task that called it, so each task sees
#: its own attempt's (a task's requests go one at a time).
_wire: ContextVar[Wire | None] = ContextVar("wire", default=None)


class StampedRequest(aiohttp.ClientRequest):
    """aiohttp's request, stamping its attempt's `Wire` as it is sent."""

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        wire = _wire.get()
        if wire is None:
            return await super().send(conn)
        wire.connect()
        response = await super().send(conn)
        # A GET has no body: its request was written to the socket in that
        # call, in this step of the loop.
        wire.send()
        return response


def open_session(config: ClientConfig) -> aiohttp.ClientSession:
    """The run's session: a pool of `config.pool` connections (0: no limit), each
    attempt bounded by `config.request_timeout` in total (waiting for a
    connection, connecting, the reply and its body), its sends stamped.

    Call inside the running event loop; close it (`async with`) when done.
    """
    connector = aiohttp.TCPConnector(limit=config.pool)
    timeout = aiohttp.ClientTimeout(total=config.scaled(config.request_timeout))
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        request_class=StampedRequest,
        headers=config.auth_headers,
    )


async def send(
    session: aiohttp.ClientSession,
    url: str,
    now: Callable[[], float],
    on_wire: Callable[[], None] | None = None,
) -> Reply:
    """GET `url` once on `session`; the session's timeout bounds the whole attempt.

    `now` is the run's clock, for the wire stamps; `on_wire` (the limiter's)
    is called when the request is written. A 200 whose body is not
    JSON counts as an error, as it did for the write-up's `await
    response.json()` inside its `try`; so does a body over the ceiling
    (`clients.transports.body.MAX_BODY`).
    """
    wire = Wire(now, on_wire)
    _wire.set(wire)
    try:
        reply = await _send(session, url)
    finally:
        _wire.set(None)
    return wire.stamp(reply)


async def _send(session: aiohttp.ClientSession, url: str) -> Reply:
    status: int | None = None
    try:
        async with session.get(url) as response:
            status = response.status
            if status != 200:
                return Reply(status, classify(status), reopens_in=reopens_in(response.headers))
            if "json" not in response.content_type:
                # What the write-up's `response.json()` refused.
                return Reply(status, "error", detail=f"not JSON: {response.content_type}")
            body = BoundedBody()
            body.declared(response.headers.get("Content-Length"))
            while chunk := await response.content.read(CHUNK):
                body.feed(chunk)
            return Reply(status, "ok", body.json())
    except BodyError as exc:
        return Reply(status, "timeout" if exc.outcome == "timeout" else "error", detail=repr(exc))
    except TimeoutError as exc:  # aiohttp's timeouts subclass it
        return Reply(status, "timeout", detail=repr(exc))
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ClientError covers refused connections and a body cut short;
        # ValueError a body that is not valid JSON.
        return Reply(status, "error", detail=repr(exc))
