"""At most L of each limit in any window of W seconds: a window's rule over any number
of limits, for contrast with the buckets.

OpenAI's limits were long read as windows ("at most RPM requests and TPM
tokens in any minute"), and a client built for them keeps a sliding log of
its sends with their costs (`clients.limiters.budget_window.BudgetLog`, two
limits). This is that rule for every limit an API has: a send goes once the
trailing `W + margin` seconds hold room for its costs in every limit. Against
token buckets that start full it never spends the starting fill on top of a
minute's refill, so where a limit binds it ends about a minute later than the
buckets allow (`clients.limiters.bucket_budget`).

The same shape as `BucketBudget` (one turn, file order, a limiter per
request), with a log instead of copies of the buckets; a refused send is
taken out of the log (the server charged it nothing).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from clients.infra.attempts import Reply
from clients.limiters.base import Clock
from clients.limiters.bucket_budget import BucketBudget, Costs


class WindowBudget(BucketBudget):
    """`amounts[i]` of limit i in any `window` seconds of `clock` (None: unlimited),
    plus `margin` seconds on each window."""

    def __init__(
        self,
        amounts: Sequence[int | None],
        window: float,
        margin: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(amounts, window, margin, clock=clock)
        self.amounts = tuple(amounts)
        self.log: deque[tuple[float, Costs]] = deque()  # (when, costs), in time order

    def __repr__(self) -> str:
        return f"<WindowBudget {self.amounts} per {self.window:g}s logged={len(self.log)}>"

    def earliest(self, now: float, costs: Costs) -> float:
        expire = self.window + self.margin
        while self.log and self.log[0][0] + expire <= now:
            self.log.popleft()
        t = now
        for k, amount in enumerate(self.amounts):
            if amount is None:
                continue
            room = amount - min(costs[k], amount)
            used = sum(c[k] for _, c in self.log)
            for at, charged in self.log:  # oldest first: the first to leave
                if used <= room:
                    break
                used -= charged[k]
                t = max(t, at + expire)
        return t

    def take(self, now: float, costs: Costs) -> None:
        self.log.append((now, costs))

    def give_back(self, costs: Costs) -> None:
        """A refused send leaves the log (the newest of its costs)."""
        for entry in reversed(self.log):
            if entry[1] == costs:
                self.log.remove(entry)
                return

    def refused(self, reply: Reply, needs: Costs, charges: Costs) -> None:
        self.give_back(charges)
