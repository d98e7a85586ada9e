"""What keeps one careless or hostile client from hurting the server or a run.

- `BodyCap`: a request body larger than `--max-body` is refused with a 413
  in the API's own error form, without parsing it: at once when its
  Content-Length says so, else as soon as the bytes read pass the cap (a
  chunked body). Parsing is on the event loop: 200,000 messages blocked
  every other request for over a second. The rest of the body is read and
  thrown away first (up to `DRAIN_LIMIT`), since a client still sending
  reads no answer, and a socket closed on unread data is reset: the client
  would see "connection reset", not the 413.
- `header_timeout_protocol`: uvicorn's h11 protocol with a deadline for a
  request's headers (`--header-timeout`). uvicorn has none: its keep-alive
  timer only runs between requests and any byte cancels it, so a client
  trickling a header a byte at a time holds its connection (and a file
  descriptor) for as long as it likes. The deadline is armed when a
  connection opens and again when it waits for its next request, and
  disarmed when uvicorn has a whole request line and headers; at the
  deadline the connection is closed without an answer.
- `same_origin`: state-changing routes (`POST /reset`) answer only requests
  whose `Host` is the server's own address and whose `Origin`, if any, is
  the server itself, so that a web page (or a DNS-rebound name) cannot
  reset a run from a browser on this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Bytes of a refused body read and thrown away before the 413; past them the
#: connection is closed on the client (a reset), which costs the server nothing.
DRAIN_LIMIT = 64 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    """Raised from `receive` when a body without a declared length passes the cap."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BodyCap:
    """Pure ASGI middleware: refuse bodies over `max_bytes` with a 413 whose
    JSON body `error_for(path, message)` shapes in the API's own form."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, error_for: Callable[[str, str], dict[str, Any]]
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.error_for = error_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, int(declared), 0, more=True)
            return
        received = 0
        more = True
        started = False

        async def counted() -> Message:
            nonlocal received, more
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more = bool(message.get("more_body"))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, received, received, more=more)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, size: int, received: int, *, more: bool
    ) -> None:
        """Answer 413, once the rest of the body (if `more` is to come) is read."""
        while more and received <= DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client has gone: no one to answer
            received += len(message.get("body", b""))
            more = bool(message.get("more_body"))
        text = (
            f"Request body too large: {size} bytes or more, and this server takes at most "
            f"{self.max_bytes} (--max-body)."
        )
        body = json.dumps(self.error_for(scope["path"], text)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request line and
    headers are not all in within `seconds` (pass it as uvicorn's `http`)."""

    class HeaderTimeoutProtocol(H11Protocol):
        deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self.deadline = self.loop.call_later(seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

        def _headers_too_slow(self) -> None:
            self.deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a whole request line and headers arrived
                self._disarm()

        def on_response_complete(self) -> None:
            # Armed first: a pipelined request already buffered is handled
            # inside, and disarms it again.
            self._arm()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def own_hosts(server: tuple[str, int | None] | None) -> set[str]:
    """The `Host` values that name the server itself, given the address a
    connection came in on: that address (and `localhost` for a loopback one)."""
    if not server or server[1] is None:
        return set()
    host, port = server[0], server[1]
    names = {host}
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        names.add("localhost")
    hosts = {f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in names}
    if port == 80:
        hosts |= {f"[{n}]" if ":" in n else n for n in names}
    return hosts


def same_origin(scope: Scope) -> bool:
    """Whether a request names this server as its `Host` and, if it says where
    it comes from (`Origin`, which browsers send with every POST), comes from
    this server too."""
    hosts = own_hosts(scope.get("server"))
    host = (_header(scope, b"host") or "").strip().lower()
    if host not in hosts:
        return False
    origin = _header(scope, b"origin")
    return origin is None or origin.strip().lower() in {f"http://{h}" for h in hosts}
