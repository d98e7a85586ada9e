"""A budget log whose limits are learned from the server's answers, not told.

Until an answer names a limit, the log lets every send go; each answer's
`x-ratelimit-limit-*` headers, or a 429's body ("on requests per min (RPM):
Limit 20"), set the log's request or token limit
(`clients.limiters.budget_window.BudgetLog`), and a 429 pauses every send
until the wait it named (`retry-after-ms`, or the body's "try again in")
has passed. A refused send is taken back out of the log: the server counts
it in neither limit. So the first window is a burst that the server cuts
down, and from then on the log keeps both limits, as `budget_window` does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter, Semaphore
from clients.limiters.budget_window import ROUNDING, BudgetLog

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

# No limit known yet: as good as none.
UNKNOWN = 10**15


class AdaptiveBudget:
    """The shared state: the log, the limits learned so far, and the pause.

    `window` and `margin` in seconds of `clock` (wall seconds); `fallback`:
    the pause after a 429 that named no wait.
    """

    def __init__(
        self, window: float, margin: float, fallback: float, *, clock: Clock = time.monotonic
    ) -> None:
        self.log = BudgetLog(UNKNOWN, UNKNOWN, window, margin)
        self.fallback = fallback
        self.clock = clock
        self.paused_until = 0.0
        self._turn = Semaphore(1)

    def __repr__(self) -> str:
        return f"<AdaptiveBudget {self.log!r} paused_until={self.paused_until:.3f}>"

    @property
    def known(self) -> tuple[int | None, int | None]:
        """(requests, tokens) per window as learned so far."""
        r, t = self.log.requests, self.log.tokens
        return (None if r == UNKNOWN else r, None if t == UNKNOWN else t)

    def acquire(self, charge: int) -> Steps[float]:
        """Wait out any pause and the log, then log the send; returns when it was logged."""
        yield from self._turn.acquire()
        try:
            while True:
                now = self.clock()
                at = max(self.paused_until, self.log.earliest(now, charge))
                if at <= now + ROUNDING:
                    self.log.record(now, charge)
                    return now
                yield Sleep(at - now)
        finally:
            self._turn.release()

    def learn(self, reply: Reply, logged: float, charge: int) -> None:
        """Take in what one answer said (see the module)."""
        learned = getattr(reply, "learned", None)
        if learned is not None:
            if learned.limits.get("requests"):
                self.log.requests = learned.limits["requests"]
            if learned.limits.get("tokens"):
                self.log.tokens = learned.limits["tokens"]
        if reply.outcome == "rate_limited":
            self.log.refused(logged, charge)
            wait = reply.reopens_in if reply.reopens_in is not None else self.fallback
            self.paused_until = max(self.paused_until, self.clock() + wait)

    def for_request(self, charge: int) -> Limiter:
        return _Adaptive(self, charge)


class _Adaptive(Limiter):
    """One request's view: its acquire asks for its charge, its answers teach the rest."""

    def __init__(self, shared: AdaptiveBudget, charge: int) -> None:
        self.shared = shared
        self.charge = charge
        self.logged = 0.0

    def acquire(self) -> Steps[float]:
        start = self.shared.clock()
        self.logged = yield from self.shared.acquire(self.charge)
        return self.logged - start

    def observe(self, reply: Reply) -> None:
        self.shared.learn(reply, self.logged, self.charge)

    def __repr__(self) -> str:
        return f"<Adaptive {self.charge} of {self.shared!r}>"
