"""At most R sends and T tokens charged in any window of W seconds: one log of both.

The OpenAI-compatible endpoint counts each admitted request once against
its requests-per-minute limit and its charge (prompt tokens plus
`max_tokens`) against its tokens-per-minute limit. A client told both
limits can keep one log of its sends, each with its charge, and let a send
go only when the trailing `W + m` seconds hold fewer than R sends and room
for its charge (`m`: the margin between a send and the server's decision,
as in `clients.limiters.sliding_log`).

Against limits' sliding-window counter (`counter=True`) the log keeps the
counter's rule instead, for both limits, on the server's clock
(time.time()) and its window alignment, as `clients.limiters.sliding_log`
does for one limit. Only the counter's rule: it admits more than R in some
W-long spans, and "R and T in any W" on top of it cost a tokens-bound batch
14 % against the counter's own schedule (`bench.endpoints.openai.bound`).

`BudgetLog` is the rule alone, with no waiting (fake-time tests run it);
`BudgetWindowLimiter` waits for it under any driver. One limiter serves
the whole batch, first come first served: `for_request(charge)` gives the
request loop a limiter that asks for that request's charge. A request
waits its turn even if a later, smaller one would fit now, so requests
go in file order, which is the schedule `bench.endpoints.openai.bound` takes for its
bound.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter, Semaphore
from clients.limiters.sliding_log import EPSILON

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

# A wait shorter than a nanosecond is float rounding: the send goes now.
ROUNDING = 1e-9


class Budget(Protocol):
    """A rule on when a send of `charge` may go, from the sends logged so far:
    `BudgetLog`, or any other a `BudgetWindowLimiter` can wait for (a daily
    quota beside it: `clients.limiters.day_quota`)."""

    def earliest(self, now: float, charge: int) -> float:
        """The earliest time >= `now` at which the send may go."""
        ...

    def record(self, at: float, charge: int) -> None:
        """Log a send at `at`; sends are recorded in time order."""
        ...

    def refused(self, at: float, charge: int) -> None:
        """Take back the send logged at `at`: the server refused it."""
        ...


class BudgetLog:
    """When a send of `charge` tokens may go, from the log of earlier sends.

    `requests` (R) sends and `tokens` (T) tokens per `window` (W) seconds;
    `margin` (m) seconds, at least 0 and less than W.
    """

    def __init__(
        self, requests: int, tokens: int, window: float, margin: float, *, counter: bool = False
    ) -> None:
        if requests < 1 or tokens < 1:
            raise ValueError(f"limits must be at least 1, got {requests} requests, {tokens} tokens")
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        if not (math.isfinite(margin) and 0 <= margin < window):
            raise ValueError(f"margin must be >= 0 and less than the window, got {margin!r}")
        self.requests = requests
        self.tokens = tokens
        self.window = window
        self.margin = margin
        self.counter = counter
        self.sent: deque[tuple[float, int]] = deque()  # (when, charge), in time order

    def __repr__(self) -> str:
        return (
            f"<BudgetLog {self.requests} requests, {self.tokens} tokens per {self.window:g}s "
            f"+ {self.margin:g}s logged={len(self.sent)} charged={self.charged()}>"
        )

    def _forget(self, now: float) -> None:
        # A send leaves the trailing W + m seconds for good at s + W + m; the
        # counter still weighs it in the next clock window, so it keeps one more.
        keep = (2 if self.counter else 1) * self.window + self.margin
        while self.sent and self.sent[0][0] + keep <= now:
            self.sent.popleft()

    def charged(self) -> int:
        return sum(charge for _, charge in self.sent)

    def record(self, at: float, charge: int) -> None:
        """Log a send of `charge` tokens at `at`; sends are recorded in time order."""
        self._forget(at)
        self.sent.append((at, charge))

    def refused(self, at: float, charge: int) -> None:
        """Take back the send logged at `at`: the server refused it, and a refused
        request counts in neither of its limits (see `mock_server.limits`)."""
        with contextlib.suppress(ValueError):  # already out of the window
            self.sent.remove((at, charge))

    def earliest(self, now: float, charge: int) -> float:
        """The earliest time >= `now` at which both budgets have room for the send.

        Each budget, once it has room, keeps it until the next send (its
        count and its tokens only fall as time passes), so the later of the
        two answers is the first time both agree. A charge above T never
        fits: it goes once the log is empty, and the server refuses it as
        too large.
        """
        self._forget(now)
        t = now
        while True:
            if self.counter:
                # The counter's rule alone: "R and T in any W + m" on top of it
                # throws away what the counter admits (tokens binding: 1.14 x the
                # counter's own schedule, against 1.03 x without it).
                later = max(
                    self._counter_earliest(t, self.requests, 1, lambda c: 1),
                    self._counter_earliest(t, self.tokens, charge, lambda c: c),
                )
            else:
                later = self._log_earliest(t, charge)
            if later <= t:
                return t
            t = later

    def _log_earliest(self, t: float, charge: int) -> float:
        expire = self.window + self.margin
        by_count = t
        if len(self.sent) >= self.requests:
            by_count = self.sent[-self.requests][0] + expire
        by_tokens = t
        room = self.tokens - min(charge, self.tokens)
        total = self.charged()
        for at, old in self.sent:  # oldest first: the first to leave
            if total <= room:
                break
            total -= old
            by_tokens = at + expire
        return max(t, by_count, by_tokens)

    def _counter_earliest(
        self, t: float, limit: int, cost: int, weight: Callable[[int], int]
    ) -> float:
        """limits' sliding-window counter, cost included (see
        `clients.limiters.sliding_log`): in clock window k, at fraction f of it,
        a hit of `cost` goes while floor(previous x (1 - f) + current) + cost <= L.
        Each logged send counts in the latest window its decision could fall in."""
        T = self.window
        k = math.floor(t / T)
        start = k * T
        current = sum(weight(c) for s, c in self.sent if s + self.margin >= start)
        previous = sum(weight(c) for s, c in self.sent if start - T <= s + self.margin < start)
        room = limit - min(cost, limit) + 1  # floor(x) + cost <= L  <=>  x < room
        if current >= room:
            return (k + 1) * T
        f = t / T - k
        if previous * (1 - f) + current < room:
            return t
        return start + (1 - (room - current) / previous) * T + EPSILON


class BudgetWindowLimiter:
    """The wait for `BudgetLog` (or any `Budget`), shared by a batch; `for_request(charge)` is the
    request loop's limiter for one request.

    Waiters go first come, first served (a `Semaphore` of one slot): the one
    whose turn it is waits for the log. `clock` is time.monotonic() (the
    fixed and moving windows need no alignment with the server's clock).
    """

    def __init__(self, log: Budget, *, clock: Clock = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self._turn = Semaphore(1)

    def __repr__(self) -> str:
        return f"<BudgetWindowLimiter {self.log!r} turn={self._turn!r}>"

    def acquire(self, charge: int) -> Steps[float]:
        """Wait until `charge` fits both budgets, log it; returns the clock reading
        at which it was logged (the caller takes the wait from it)."""
        yield from self._turn.acquire()
        try:
            while True:
                now = self.clock()
                at = self.log.earliest(now, charge)
                if at <= now + ROUNDING:
                    self.log.record(now, charge)
                    return now
                yield Sleep(at - now)
        finally:
            self._turn.release()

    def for_request(self, charge: int) -> Limiter:
        return _Charged(self, charge)


class _Charged(Limiter):
    """One request's view of the shared limiter: its acquire asks for its charge."""

    def __init__(self, shared: BudgetWindowLimiter, charge: int) -> None:
        self.shared = shared
        self.charge = charge
        self.logged: float | None = None  # when this request's current attempt was logged

    def acquire(self) -> Steps[float]:
        start = self.shared.clock()
        self.logged = yield from self.shared.acquire(self.charge)
        return self.logged - start

    def observe(self, reply: Reply) -> None:
        if reply.outcome == "rate_limited" and self.logged is not None:
            self.shared.log.refused(self.logged, self.charge)

    def __repr__(self) -> str:
        return f"<Charged {self.charge} of {self.shared!r}>"
