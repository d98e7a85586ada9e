"""One HTTP attempt with aiohttp, turned into a `Reply` (never an exception).

`open_session` builds the one session of a run with its limits explicit: the
connection pool (`ClientConfig.pool`; aiohttp's own default of 100 is a
ceiling on requests in flight that no policy chose: by Little's law, at a
mean latency of 1.5 s, at most 100 / 1.5 = 67 requests per second, whatever
the server allows), the attempt's total
time, and the tracing hooks that stamp when each request got a connection and
reached the wire (`clients.transports.wire`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

from clients.config import ClientConfig
from clients.infra.attempts import Reply, classify, reopens_in
from clients.transports.body import CHUNK, BodyError, BoundedBody
from clients.transports.wire import Wire


async def _connected(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    wire = context.trace_request_ctx
    if isinstance(wire, Wire):
        wire.connect()


async def _headers_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    # aiohttp calls this as it hands the headers to its writer; a GET has no
    # body, so they are written to the socket in the same step of the loop,
    # with no await in between.
    wire = context.trace_request_ctx
    if isinstance(wire, Wire):
        wire.send()


def tracing() -> aiohttp.TraceConfig:
    """The hooks that stamp a request's `Wire`, passed as `trace_request_ctx`."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_connected)
    trace.on_connection_reuseconn.append(_connected)
    trace.on_request_headers_sent.append(_headers_sent)
    return trace


def open_session(config: ClientConfig) -> aiohttp.ClientSession:
    """The run's session: a pool of `config.pool` connections (0: no limit), each
    attempt bounded by `config.request_timeout` in total (waiting for a
    connection, connecting, the reply and its body), its sends traced.

    Call inside the running event loop; close it (`async with`) when done.
    """
    connector = aiohttp.TCPConnector(limit=config.pool)
    timeout = aiohttp.ClientTimeout(total=config.scaled(config.request_timeout))
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        trace_configs=[tracing()],
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
    return wire.stamp(await _send(session, url, wire))


async def _send(session: aiohttp.ClientSession, url: str, wire: Wire) -> Reply:
    status: int | None = None
    try:
        async with session.get(url, trace_request_ctx=wire) as response:
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
