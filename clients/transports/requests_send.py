"""One HTTP attempt with requests, turned into a `Reply` (never an exception).

Like the write-up's `requests.get`: a session of its own per attempt, so a
new connection per attempt and no pool shared between threads; here that
pool is explicit (one connection). Two things are added underneath, through
urllib3's own extension points (a connection class on a pool class on the
adapter):

- the wire stamps (`clients.transports.wire`): a connection stamps when it
  is open and when it writes the request, for the attempt running on its
  thread (one per thread at a time, so a thread-local says which);
- a bound on the whole attempt: requests' timeout is per read, so the
  attempt's connection is handed to the watchdog
  (`clients.transports.watchdog`), which cuts it when its time is up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from clients.infra.attempts import Reply, classify, reopens_in
from clients.transports.body import CHUNK, BodyError, BoundedBody
from clients.transports.watchdog import WATCHDOG, Budget
from clients.transports.wire import Wire


class _Attempt(threading.local):
    wire: Wire | None = None
    budget: Budget | None = None


_current = _Attempt()


def _on_wire(conn: HTTPConnection) -> None:
    """Called just before `conn` writes a request: connect if needed, then stamp."""
    if conn.sock is None:
        conn.connect()  # what http.client would do on its first write
    wire, budget = _current.wire, _current.budget
    if wire is not None and budget is not None and conn.sock is not None:
        wire.connect()
        budget.watch(conn.sock)
        wire.send()


class _StampedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _on_wire(self)
        super().request(*args, **kwargs)


class _StampedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _on_wire(self)
        super().request(*args, **kwargs)


class _StampedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _StampedHTTPConnection


class _StampedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _StampedHTTPSConnection


class _StampedAdapter(HTTPAdapter):
    """requests' adapter with a pool of one connection (explicit: requests.get's
    own session would allow 10) whose connections stamp the wire."""

    def __init__(self) -> None:
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _StampedHTTPPool,
            "https": _StampedHTTPSPool,
        }


def send(
    url: str,
    timeout: float,
    now: Callable[[], float] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """GET `url` once, with `headers` (an API key's); blocks the calling thread for
    at most about `timeout` seconds, body included. `now` is the run's clock, for
    the wire stamps (without it, the request loop's own stamp stands).

    A 200 whose body is not JSON counts as an error, as it did for the
    write-up's `response.json()`; so does a body over the ceiling
    (`clients.transports.body.MAX_BODY`).
    """
    wire = Wire(now) if now is not None else None
    budget = WATCHDOG.budget(timeout)
    _current.wire, _current.budget = wire, budget
    try:
        reply = _send(url, budget, headers or {})
    finally:
        _current.wire = _current.budget = None
    return reply if wire is None else wire.stamp(reply)


def _send(url: str, budget: Budget, headers: Mapping[str, str]) -> Reply:
    status: int | None = None
    with requests.Session() as session:
        session.headers.update(headers)
        adapter = _StampedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            reply = _get(session, url, budget)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            reply = Reply(status, "error", detail=repr(exc))
        finally:
            # Withdrawn before the session closes the socket: the watchdog
            # must never cut a socket number the system has handed out again.
            budget.done()
    if budget.fired:
        # Whatever the cut socket made of the reply (a short body, a reset),
        # the attempt ran out of time.
        return Reply(reply.status, "timeout", detail=f"cut by the watchdog: {reply.detail}")
    return reply


def _get(session: requests.Session, url: str, budget: Budget) -> Reply:
    try:
        seconds = budget.remaining()
        response = session.get(url, timeout=(seconds, seconds), stream=True)
    except requests.Timeout as exc:
        return Reply(None, "timeout", detail=repr(exc))
    status = response.status_code
    if status != 200:
        return Reply(status, classify(status), reopens_in=reopens_in(response.headers))
    body = BoundedBody(deadline=budget.deadline, clock=WATCHDOG.clock)
    try:
        body.declared(response.headers.get("Content-Length"))
        while chunk := response.raw.read(CHUNK, decode_content=True):
            body.feed(chunk)
    except BodyError as exc:
        return Reply(status, "timeout" if exc.outcome == "timeout" else "error", detail=repr(exc))
    except urllib3.exceptions.ReadTimeoutError as exc:
        return Reply(status, "timeout", detail=repr(exc))
    try:
        decoded = body.json()
    except ValueError as exc:
        return Reply(status, "error", detail=repr(exc))
    return Reply(status, "ok", decoded)
