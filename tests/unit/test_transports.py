"""The transports' bounds without a server: the body ceiling and deadline, and the
watchdog that wakes a blocked read."""

from __future__ import annotations

import socket
import time

import pytest

from clients.transports.body import BodyTooLarge, BodyTooSlow, BoundedBody
from clients.transports.watchdog import Watchdog


def test_the_body_ceiling_and_deadline() -> None:
    body = BoundedBody(limit=10)
    body.feed(b"[1, 2]")
    assert body.json() == [1, 2]
    with pytest.raises(BodyTooLarge):
        body.feed(b"12345")
    with pytest.raises(BodyTooLarge):
        BoundedBody(limit=10).declared("11")
    BoundedBody(limit=10).declared("10")
    now = [0.0]
    late = BoundedBody(deadline=1.0, clock=lambda: now[0])
    late.feed(b"1")
    now[0] = 1.5
    with pytest.raises(BodyTooSlow):
        late.feed(b"2")


def test_the_watchdog_wakes_a_blocked_read_and_spares_a_finished_one() -> None:
    dog = Watchdog()
    left, right = socket.socketpair()
    spared_left, spared_right = socket.socketpair()
    with left, right, spared_left, spared_right:
        spared = dog.budget(0.05)
        spared.watch(spared_left)
        spared.done()
        left.settimeout(5.0)  # a watchdog that never cuts fails the test, not hangs it
        budget = dog.budget(0.2)
        budget.watch(left)
        began = time.monotonic()
        assert left.recv(1) == b""  # woken by the cut, nothing was ever sent
        assert 0.15 < time.monotonic() - began < 2.0
        assert budget.fired
        assert not spared.fired
        spared_right.sendall(b"x")
        assert spared_left.recv(1) == b"x"  # done() in time: left alone
