"""At most L sends in any window of T seconds: a sliding log of send times.

`SlidingLog` is the rule alone, with no waiting, so that fake-time tests
and the theory's virtual-time model run the very code the client runs:
`earliest(now)` says when the next send may go, `record(at)` logs one.
`SlidingLogLimiter` is the limiter that waits for it, under any driver.

Two rules, each with a margin `m` that absorbs the time between the
client's send and the server's decision (the decision is never earlier
than the send, and at most `m` later):

- the log: a send goes when fewer than L of the logged sends lie in the
  trailing `T + m` seconds, so the decisions are never more than L in any
  T. This is what limits' fixed window (anchored at its first hit) and
  moving window ask for.
- the counter (`counter=True`): limits' sliding-window counter as well. It
  splits time into windows aligned on multiples of T of the clock it reads
  (`time.time()`) and accepts a hit while
  `previous * (1 - f) + current < L`, where `f` is how far into the current
  window the hit falls. It assumes the previous window's hits were spread
  evenly, so a burst at a window's start is remembered too long: after two
  hits early in window k, a 2nd hit in window k+1 waits until f > 1/2,
  though "2 in any T" would let it go at once. The client replays that rule
  on its own log of sends, reading the same clock (the windows' alignment
  is part of the documented algorithm, not the server's private state).
  Each logged send counts in the latest window its decision could fall in,
  `[sent, sent + m]`: the worst case, since a hit weighs more the later its
  window.

With the counter rule, the client keeps the log rule as well: the
published limit is "L per T", and without it the client could squeeze
three hits into a few milliseconds across a window edge, beating "the best
possible" by gaming the counter's approximation rather than by scheduling.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter, Semaphore

# A time computed to be exactly where the counter's weighted count reaches L
# is still rejected there (limits accepts while floor(count) + 1 <= L, i.e.
# count < L), so the earliest allowed time is a hair later. 10 microseconds
# is far above the rounding of `t / T` for t ~ 1.7e9 s on time.time(),
# and far below anything a makespan can show.
EPSILON = 1e-5
# A wait shorter than a nanosecond is float rounding, and could be too small
# to move the simulator's virtual clock at all: the send goes now.
ROUNDING = 1e-9


class SlidingLog:
    """When the next send may go, from the log of earlier sends. No waiting here.

    `limit` (L) sends per `window` (T) seconds; `margin` (m) seconds, at
    least 0 and less than T. Times are readings of the clock the caller
    uses; with `counter=True` it must be the server limiter's clock
    (time.time()), since the counter's windows are aligned on it.
    """

    def __init__(self, limit: int, window: float, margin: float, *, counter: bool = False) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 send, got {limit}")
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        if not (math.isfinite(margin) and 0 <= margin < window):
            raise ValueError(
                f"margin must be >= 0 seconds and less than the window ({window:g} s), "
                f"got {margin!r}"
            )
        self.limit = limit
        self.window = window
        self.margin = margin
        self.counter = counter
        self.sent: deque[float] = deque()

    def __repr__(self) -> str:
        rule = " + counter" if self.counter else ""
        return (
            f"<SlidingLog {self.limit} per {self.window:g}s + {self.margin:g}s{rule} "
            f"logged={len(self.sent)}>"
        )

    def record(self, at: float) -> None:
        """Log a send at `at`; sends are recorded in time order."""
        self.sent.append(at)
        # Nothing older than two windows (plus the margin) matters to either rule.
        horizon = at - 2 * self.window - self.margin
        while self.sent and self.sent[0] < horizon:
            self.sent.popleft()

    def restamp(self, logged: float, wire: float) -> None:
        """Move the send logged at `logged` to `wire`, when its request really went
        out (later, if it waited for a connection); keeps the log in time order.
        A send already dropped from the log, or an earlier `wire`, changes nothing."""
        if wire <= logged:
            return
        for i in range(len(self.sent) - 1, -1, -1):
            if self.sent[i] == logged:
                del self.sent[i]
                j = len(self.sent)
                while j > 0 and self.sent[j - 1] > wire:
                    j -= 1
                self.sent.insert(j, wire)
                return

    def earliest(self, now: float) -> float:
        """The earliest time >= `now` at which a send is allowed by every rule.

        Each rule, once satisfied, stays satisfied until the next send (its
        counts only fall as time passes), so taking the latest of the rules'
        answers until none moves gives the first time all of them agree.
        """
        t = now
        while True:
            later = self._log_earliest(t)
            if self.counter:
                later = max(later, self._counter_earliest(later))
            if later <= t:
                return t
            t = later

    def _log_earliest(self, t: float) -> float:
        if len(self.sent) < self.limit:
            return t
        # The L-th most recent send leaves the trailing T + m seconds then.
        return max(t, self.sent[-self.limit] + self.window + self.margin)

    def counts(self, index: int) -> tuple[int, int]:
        """(previous, current): logged sends the counter could hold in clock windows
        `index - 1` and `index` ([iT, (i+1)T)) for a send decided in window `index`.

        A send's decision lies in [sent, sent + m]. A hit weighs more in a
        later window (1 in the current one, 1 - f in the previous, 0 before),
        so the worst case puts each send in the latest window it could be
        decided in; sends that could reach the window after `index` are
        counted in `index`, since only those decided before ours count at all.
        """
        start = index * self.window
        current = sum(1 for s in self.sent if s + self.margin >= start)
        previous = sum(1 for s in self.sent if start - self.window <= s + self.margin < start)
        return previous, current

    def _counter_earliest(self, t: float) -> float:
        # A decision that crosses into window k + 1 needs no check of its own:
        # there window k weighs in full and k + 1 holds no logged send that
        # `counts(k)` did not count as current, so it sees at most `current`,
        # which is below L whenever this window lets the send go.
        T, L = self.window, self.limit
        k = math.floor(t / T)
        previous, current = self.counts(k)
        if current >= L:
            return (k + 1) * T
        f = t / T - k
        if previous * (1 - f) + current < L:
            return t
        # previous * (1 - f) + current < L  <=>  f > 1 - (L - current) / previous
        return k * T + (1 - (L - current) / previous) * T + EPSILON


class SlidingLogLimiter(Limiter):
    """The limiter: `acquire` waits until `SlidingLog` allows a send and logs it.

    Waiters go first come, first served: they take turns (a `Semaphore` of
    one slot) and the one whose turn it is waits for the log, since no later
    waiter could go before it anyway. `clock` (seconds) is time.time() by
    default because limits reads it; it is an attribute so tests can fake it.
    """

    def __init__(self, log: SlidingLog, *, clock: Clock = time.time) -> None:
        self.log = log
        self.clock = clock
        self.waiters = 0
        self._turn = Semaphore(1)
        self._last: float | None = None

    def __repr__(self) -> str:
        return f"<SlidingLogLimiter {self.log!r} waiters={self.waiters}>"

    def on_wire(self) -> Callable[[], None]:
        """The send just logged moves to when its request reaches the wire.

        A request that must first open a connection (the first ones of a
        batch, or any on an unbounded pool) reaches the server tens of
        milliseconds after the limiter let it go, more than the margin
        allows for; logged at the grant, the next window's sends would go
        early against the server's window, which opened at its decision.
        """
        logged = self._last

        def restamp() -> None:
            if logged is not None:
                self.log.restamp(logged, self.clock())

        return restamp

    def acquire(self) -> Steps[float]:
        """Wait until a send is allowed, log it; returns the seconds waited.

        A waiter abandoned by its driver (cancelled) logs nothing.
        """
        start = self.clock()
        self.waiters += 1
        try:
            yield from self._turn.acquire()
            try:
                while True:
                    now = self.clock()
                    at = self.log.earliest(now)
                    if at <= now + ROUNDING:
                        self.log.record(now)
                        self._last = now
                        return now - start
                    yield Sleep(at - now)
            finally:
                self._turn.release()
        finally:
            self.waiters -= 1
