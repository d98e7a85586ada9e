"""When one attempt got a connection and when its request reached the wire.

The request loop stamps an attempt when it hands it to the transport; the
HTTP library may then wait for a free connection in its pool (aiohttp's
default pool holds 100), open one, and only then write the request. The
transports stamp those moments through the library's own classes (aiohttp's
request class, a urllib3 connection class), so no record shows a send that had
not happened yet.
"""

from __future__ import annotations

from collections.abc import Callable

from clients.infra.attempts import Reply


class Wire:
    """The stamps of one attempt, in the run's seconds (`now`, the recorder's clock).

    `handed`: given to the HTTP library; `connected`: holding an open
    connection (a reused one, or a new one once established); `sent`: its
    request written to that connection. Only the first of each counts: a
    redirect's second request does not move them.
    """

    __slots__ = ("connected", "handed", "now", "on_wire", "sent")

    def __init__(self, now: Callable[[], float], on_wire: Callable[[], None] | None = None) -> None:
        self.now = now
        self.on_wire = on_wire
        self.handed = now()
        self.connected: float | None = None
        self.sent: float | None = None

    def __repr__(self) -> str:
        return f"<Wire handed={self.handed} connected={self.connected} sent={self.sent}>"

    def connect(self) -> None:
        if self.connected is None:
            self.connected = self.now()

    def send(self) -> None:
        if self.sent is None:
            self.connect()  # a request written had a connection
            self.sent = self.now()
            if self.on_wire is not None:
                self.on_wire()

    def stamp(self, reply: Reply) -> Reply:
        """`reply` with this attempt's wire stamps.

        The pool wait runs from `handed` to `connected`; an attempt that never
        got a connection waited for one until it gave up.
        """
        connected = self.now() if self.connected is None else self.connected
        # Built field by field: `dataclasses.replace` looks the fields up
        # again on every call, a few microseconds an attempt.
        return Reply(
            reply.status,
            reply.outcome,
            reply.body,
            reply.detail,
            reply.reopens_in,
            sent=self.sent,
            pool_wait=max(0.0, connected - self.handed),
        )
