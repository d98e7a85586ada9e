"""The OpenAI cookbook's parallel processor's policy, as one limiter.

`api_request_parallel_processor.py` keeps two capacities, requests and
tokens, each starting full (a minute's worth) and refilled continuously at
its per-minute rate, capped at a minute's worth. A request goes when both
hold enough for it (one request, its estimated tokens) and takes that much.
After any rate-limit error, nothing new is sent until 15 seconds after it
("pause to cool down"); the refused request is requeued at once.

Here the capacities and the pause are the rule, waited for under any
driver; requests take their turn first come, first served. The processor
takes requeued requests before new ones; here a retry joins the queue's end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter, Semaphore
from clients.limiters.budget_window import ROUNDING

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

#: The processor's `seconds_to_pause_after_rate_limit_error`, in scenario seconds.
COOLDOWN = 15.0


class CookbookBudget:
    """Two continuously refilled capacities and a cool-down, in seconds of `clock`.

    `requests`, `tokens`: per `window` (a minute, scaled); `cooldown`: the
    pause after a rate-limit error.
    """

    def __init__(
        self,
        requests: int,
        tokens: int,
        window: float,
        cooldown: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_requests = float(requests)
        self.max_tokens = float(tokens)
        self.window = window
        self.cooldown = cooldown
        self.clock = clock
        self.requests = float(requests)  # starts full, as the processor does
        self.tokens = float(tokens)
        self.updated = clock()
        self.last_rate_limit = -float("inf")
        self._turn = Semaphore(1)

    def __repr__(self) -> str:
        return (
            f"<CookbookBudget requests {self.requests:.2f}/{self.max_requests:g} tokens "
            f"{self.tokens:.0f}/{self.max_tokens:g}>"
        )

    def _refill(self, now: float) -> None:
        elapsed = now - self.updated
        self.requests = min(
            self.max_requests, self.requests + self.max_requests * elapsed / self.window
        )
        self.tokens = min(self.max_tokens, self.tokens + self.max_tokens * elapsed / self.window)
        self.updated = now

    def acquire(self, charge: int) -> Steps[float]:
        """Wait for the cool-down and both capacities; take them. Returns the seconds waited."""
        start = self.clock()
        yield from self._turn.acquire()
        try:
            while True:
                now = self.clock()
                self._refill(now)
                cool = self.last_rate_limit + self.cooldown - now
                if cool > ROUNDING:
                    yield Sleep(cool)
                    continue
                need = min(float(charge), self.max_tokens)
                if self.requests >= 1 and self.tokens >= need:
                    self.requests -= 1
                    self.tokens -= need
                    return now - start
                short = max(
                    (1 - self.requests) * self.window / self.max_requests,
                    (need - self.tokens) * self.window / self.max_tokens,
                )
                yield Sleep(max(short, ROUNDING))
        finally:
            self._turn.release()

    def for_request(self, charge: int) -> Limiter:
        return _Cookbook(self, charge)


class _Cookbook(Limiter):
    def __init__(self, shared: CookbookBudget, charge: int) -> None:
        self.shared = shared
        self.charge = charge

    def acquire(self) -> Steps[float]:
        return (yield from self.shared.acquire(self.charge))

    def observe(self, reply: Reply) -> None:
        if reply.outcome == "rate_limited":
            self.shared.last_rate_limit = self.shared.clock()

    def __repr__(self) -> str:
        return f"<Cookbook {self.charge} of {self.shared!r}>"
