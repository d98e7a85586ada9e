"""At most D sends a day, the day opening at a known instant: a budget of its own.

Gemini counts requests per day per project and resets the count at midnight
Pacific time. A client told the quota and where in the day the batch starts
keeps the days' counts itself (`DayLog`): a send goes while its day has
room, and otherwise waits for the next day to open (plus a margin: the
server's day and the client's clock are two clocks).

`DayLog` has `BudgetLog`'s three methods (`earliest`, `record`, `refused`),
so `AllBudgets` can join it to the per-minute log and `BudgetWindowLimiter`
(`clients.limiters.budget_window`) waits for both, under any driver: the
per-minute policy is reused as it is, the day added beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from clients.limiters.budget_window import Budget


class DayLog:
    """At most `per_day` sends in each day. Day 0 ends at `first_end` seconds of the
    clock; day k (k >= 1) spans `[first_end + (k - 1) x length, first_end + k x length)`.
    A send that finds its day full waits for the next day's opening plus `margin`."""

    def __init__(self, per_day: int, length: float, first_end: float, margin: float) -> None:
        if per_day < 1:
            raise ValueError(f"per_day must be at least 1, got {per_day}")
        if not (math.isfinite(length) and length > 0):
            raise ValueError(f"a day must last a positive number of seconds, got {length!r}")
        if not (0 <= margin < length):
            raise ValueError(f"margin must be >= 0 and less than a day, got {margin!r}")
        self.per_day = per_day
        self.length = length
        self.first_end = first_end
        self.margin = margin
        self.counts: Counter[int] = Counter()

    def __repr__(self) -> str:
        return (
            f"<DayLog {self.per_day} a day of {self.length:g}s, day 0 ends at "
            f"{self.first_end:g}s counts={dict(self.counts)}>"
        )

    def day(self, at: float) -> int:
        """The day `at` falls in (0 until `first_end`)."""
        if at < self.first_end:
            return 0
        return 1 + math.floor((at - self.first_end) / self.length)

    def opens(self, day: int) -> float:
        """When day `day` (>= 1) opens."""
        return self.first_end + (day - 1) * self.length

    def earliest(self, now: float, charge: int) -> float:
        day = self.day(now)
        if self.counts[day] < self.per_day:
            return now
        # The next day is empty: nothing is logged ahead of the clock.
        return max(now, self.opens(day + 1) + self.margin)

    def record(self, at: float, charge: int) -> None:
        self.counts[self.day(at)] += 1

    def refused(self, at: float, charge: int) -> None:
        day = self.day(at)
        if self.counts[day] > 0:
            self.counts[day] -= 1


def days_needed(n: int, per_day: int) -> int:
    """Days a batch of `n` requests spans at `per_day` a day, the first included."""
    return max(1, math.ceil(n / per_day))


class AllBudgets:
    """Several budgets at once: a send goes when every one of them has room."""

    def __init__(self, budgets: Sequence[Budget]) -> None:
        self.budgets = tuple(budgets)

    def __repr__(self) -> str:
        return f"<AllBudgets {', '.join(map(repr, self.budgets))}>"

    def earliest(self, now: float, charge: int) -> float:
        # Each budget, once it has room, keeps it until the next send, so the
        # first instant all agree is the fixed point of the latest answer.
        t = now
        while True:
            later = max(b.earliest(t, charge) for b in self.budgets)
            if later <= t:
                return t
            t = later

    def record(self, at: float, charge: int) -> None:
        for b in self.budgets:
            b.record(at, charge)

    def refused(self, at: float, charge: int) -> None:
        for b in self.budgets:
            b.refused(at, charge)


def plan_days(
    n: int, per_day: int, per_minute: int, first_end: float, length: float, minute: float = 60.0
) -> list[int]:
    """How many of `n` requests each day takes when every minute sends `per_minute`
    and every day `per_day` (day 0 ending at `first_end`, each later one `length`
    long, all in the seconds of `minute`): what a client told the quotas plans
    before its first send."""
    days: list[int] = []
    left, t = n, 0.0
    while left > 0:
        day = len(days)
        end = first_end + day * length
        minutes = max(1, math.ceil((end - t) / minute - 1e-9))
        take = min(left, per_day, per_minute * minutes)
        days.append(take)
        left -= take
        t = end
    return days
