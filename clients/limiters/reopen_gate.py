"""A gate that a 429 closes for every request until the server's window reopens."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter

if TYPE_CHECKING:
    from clients.infra.attempts import Reply


class ReopenGate(Limiter):
    """Shared by all of a batch's requests: a 429 shuts it until the window reopens.

    `observe` shuts the gate, on every 429, for as long as the reply says
    the server's window stays shut (`Reply.reopens_in`, wall seconds), or
    `fallback` seconds if it did not say, plus `margin`; the gate only ever
    moves its reopening later. `acquire` waits while it is shut,
    re-checking after each sleep because another 429 may have pushed the
    reopening back meanwhile. `clock` is an attribute so tests can fake time.
    """

    def __init__(
        self, margin: float, fallback: float = 0.0, *, clock: Clock = time.monotonic
    ) -> None:
        if not margin >= 0 or not fallback >= 0:
            raise ValueError(f"margin and fallback must be >= 0 seconds, got {margin}, {fallback}")
        self.margin = margin
        self.fallback = fallback
        self.clock = clock
        self.opens_at = -math.inf
        self.closed = 0  # how many times a 429 closed (or kept closed) the gate

    def close_for(self, seconds: float) -> None:
        self.closed += 1
        self.opens_at = max(self.opens_at, self.clock() + seconds + self.margin)

    def observe(self, reply: Reply) -> None:
        if reply.outcome == "rate_limited":
            self.close_for(self.fallback if reply.reopens_in is None else reply.reopens_in)

    def acquire(self) -> Steps[float]:
        start = self.clock()
        while (wait := self.opens_at - self.clock()) > 0:
            yield Sleep(wait)
        return self.clock() - start

    def __repr__(self) -> str:
        shut = self.opens_at - self.clock()
        state = f"shut for {shut:.3f} s" if shut > 0 else "open"
        return f"<ReopenGate {state}, closed {self.closed} times, margin {self.margin:g} s>"
