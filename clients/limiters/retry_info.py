"""Limits learned from Gemini's 429s alone: `QuotaFailure` says which quota, `RetryInfo` how long.

Gemini sends no rate-limit headers, so `header_adaptive`'s sources are gone
but one: the 429's body (`clients.transports.gemini_send.Refusal`). This is
its budget (`clients.limiters.header_adaptive.AdaptiveBudget`: one log of
sends with their charges, and a pause every send waits out), taught by that
body:

- a per-minute refusal (requests or input tokens) pauses every send for
  the wait it names, and sets the log's limit to the violation's
  `quotaValue` (Google states it; failing that, to what the log held in the
  trailing window before the refused send, the smallest such reading), so
  the next minutes are paced and not refused again;
- a per-day refusal pauses every send until the next day opens (the wait
  it names, the longer of `retryDelay` and the message's "retry in", plus a
  margin) and says so; the first send after it says how long the batch
  waited. A day's 429 is never retried within the day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from clients.infra.steps import Steps
from clients.limiters.base import Clock, Limiter
from clients.limiters.header_adaptive import UNKNOWN, AdaptiveBudget

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

Say = Callable[[str], None]


def _quiet(text: str) -> None:
    pass


class RetryInfoBudget(AdaptiveBudget):
    """`AdaptiveBudget` taught by Gemini's 429 bodies (see the module).

    Seconds of `clock` (wall seconds); `scale`: wall seconds per scenario second,
    for what it says; `margin` is added to a day's wait; `say` hears its lines.
    """

    def __init__(
        self,
        window: float,
        margin: float,
        fallback: float,
        *,
        scale: float = 1.0,
        say: Say = _quiet,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(window, margin, fallback, clock=clock)
        self.margin = margin
        self.scale = scale
        self.say = say
        self.started = clock()
        self.day_refusals = 0
        self.waited_for_days = 0.0  # wall seconds paused for a day to open
        self._day_pause_from: float | None = None
        self._stated: set[str] = set()  # limits a quotaValue stated

    def __repr__(self) -> str:
        return (
            f"<RetryInfoBudget {self.log!r} paused_until={self.paused_until:.3f} "
            f"day_refusals={self.day_refusals}>"
        )

    def _t(self, at: float) -> float:
        """Scenario seconds since the batch began."""
        return (at - self.started) / self.scale

    def acquire(self, charge: int) -> Steps[float]:
        logged = yield from super().acquire(charge)
        if self._day_pause_from is not None and logged >= self.paused_until:
            waited = logged - self._day_pause_from
            self.waited_for_days += waited
            self._day_pause_from = None
            self.say(
                f"=== {self._t(logged):.2f} the next day opened: resumed after waiting "
                f"{waited / self.scale:.2f} s ==="
            )
        return logged

    def _held_before(self, logged: float, charge: int) -> tuple[int, int]:
        """(sends, tokens) the log held in the trailing window before the send logged
        at `logged` with `charge`: the entries ahead of it in the log (sends logged
        at one instant, as a burst is in virtual time, keep their order there)."""
        window = self.log.window + self.log.margin
        sent = list(self.log.sent)
        try:
            place = sent.index((logged, charge))
        except ValueError:  # already out of the window
            place = len(sent)
        before = [c for at, c in sent[:place] if logged - window < at]
        return len(before), sum(before)

    def learn(self, reply: Reply, logged: float, charge: int) -> None:
        refusal = getattr(reply, "refusal", None)
        if reply.outcome != "rate_limited" or refusal is None:
            super().learn(reply, logged, charge)
            return
        sends, tokens = self._held_before(logged, charge)
        self.log.refused(logged, charge)
        now = self.clock()
        wait = reply.reopens_in if reply.reopens_in is not None else self.fallback
        if refusal.per_day:
            until = now + wait + self.margin
            if until > self.paused_until + self.margin:
                self.day_refusals += 1
                self.say(
                    f"=== {self._t(now):.2f} the day's quota is spent (request refused per "
                    f"day): no attempt until the next day opens, in {wait / self.scale:.2f} s ==="
                )
                self._day_pause_from = now
            self.paused_until = max(self.paused_until, until)
            return
        for kind, held in (("requests", sends), ("tokens", tokens)):
            if kind not in refusal.kinds:
                continue
            stated = refusal.value(kind)
            if stated is not None:  # the violation's quotaValue: the limit itself
                self._stated.add(kind)
                setattr(self.log, kind, stated)
            elif held and kind not in self._stated:
                known = getattr(self.log, kind)
                setattr(self.log, kind, held if known == UNKNOWN else min(known, held))
        self.paused_until = max(self.paused_until, now + wait)

    def for_request(self, charge: int) -> Limiter:
        return super().for_request(charge)
