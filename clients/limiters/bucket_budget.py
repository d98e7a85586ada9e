"""The server's token buckets, kept on the client's side: spend the starting fill,
then the refill, and never more.

The LLM endpoints' limits are token buckets (`mock_server.token_bucket`):
each holds a minute's worth, starts full and refills continuously at its
per-minute rate; a request goes only if every bucket it draws on holds its
cost. A client told the limits keeps a copy of each bucket and lets a
request go at the first instant every copy holds its cost plus `margin`
seconds of refill: that is the earliest schedule
(`bench.theory.bucket_schedule`), the bound, a margin later. A sliding
window's rule ("at most L in any minute") leaves the starting fill unspent
and ends a minute later where tokens bind.

The margin covers the gap between a send and the server's decision: the
server decides each request some milliseconds after it was sent, in an
order that may differ from the sends', so over any span it can see the
charges of a span up to that gap longer; a bucket that keeps `rate x
margin` units in hand covers it (`clients.catalog.budget_window`'s margin).

A refused send is given back (the server charges a refused request
nothing), and the 429's wait moves the copy back to agree with the server
(`BucketBudget.behind`): a server that decided a burst later than it was
sent, by more than the margin, holds its buckets emptier than the copy for
as long as they bind. Without a stated wait the refused charge is kept.

What a request needs to start and what it is charged may differ,
and part of its charge may come with its answer: Anthropic's output tokens
counted as produced need one token in the output bucket, are charged
nothing at admission, and the answer's `usage.output_tokens` is charged
when it comes in (`clients.infra.llm_api`), as the server charges them when
produced, a few milliseconds earlier: the margin covers that too.

`BucketBudget` is the rule and the wait (fake-time tests run it under the
simulator's driver); `for_request(needs, charges, after)` gives the request
loop a limiter for one request. Requests go first come, first served (one turn),
so in file order. `LearnedBuckets` is the same copy with its capacities
learned from the answers (`clients.catalog.header_adaptive`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter, Semaphore
from clients.limiters.budget_window import ROUNDING
from mock_server.token_bucket import Bucket

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

Costs = tuple[int, ...]
#: What a request's answer is charged once it is in.
After = Callable[["Reply"], Costs]


def nothing_after(reply: Reply) -> Costs:
    return ()


class BucketBudget:
    """Copies of the server's buckets: `amounts[i]` units per `window` seconds of
    `clock` each (None: not limited, or not known yet), full at the start.

    `margin`: seconds of refill each bucket keeps in hand (see the module).
    """

    def __init__(
        self,
        amounts: Sequence[int | None],
        window: float,
        margin: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        if not (math.isfinite(margin) and 0 <= margin < window):
            raise ValueError(f"margin must be >= 0 and less than the window, got {margin!r}")
        self.window = window
        self.margin = margin
        self.clock = clock
        self.buckets: list[Bucket | None] = [self._bucket(a) for a in amounts]
        start = clock()
        self.full_at = [start] * len(self.buckets)
        self._turn = Semaphore(1)

    def _bucket(self, amount: int | None) -> Bucket | None:
        return None if amount is None else Bucket(amount, amount / self.window)

    def __repr__(self) -> str:
        now = self.clock()
        levels = ", ".join(
            "unlimited" if b is None else f"{b.level(f, now):.0f}/{b.capacity}"
            for b, f in zip(self.buckets, self.full_at, strict=True)
        )
        return f"<{type(self).__name__} {levels} margin={self.margin:g}s>"

    def earliest(self, now: float, costs: Costs) -> float:
        """The first instant from `now` at which every bucket holds its cost plus the
        margin's refill, if nothing else is taken. A cost above a bucket's capacity
        never fits: it goes once that bucket is full, and the server refuses it."""
        t = now
        for bucket, full_at, cost in zip(self.buckets, self.full_at, costs, strict=False):
            if bucket is None:
                continue
            room = (bucket.capacity - min(cost, bucket.capacity)) / bucket.rate
            t = max(t, full_at - max(0.0, room - self.margin))
        return t

    def take(self, now: float, costs: Costs) -> None:
        """Charge `costs` at `now` in every known bucket."""
        for i, (bucket, cost) in enumerate(zip(self.buckets, costs, strict=False)):
            if bucket is not None:
                self.full_at[i] = bucket.charged(self.full_at[i], now, cost)

    def give_back(self, costs: Costs) -> None:
        """Take back `costs` charged earlier (a refusal, or what was not used)."""
        for i, (bucket, cost) in enumerate(zip(self.buckets, costs, strict=False)):
            if bucket is not None and cost:
                self.full_at[i] -= cost / bucket.rate

    def ready(self, now: float, costs: Costs) -> float:
        """When the request may go: `earliest`, for a subclass to add to."""
        return self.earliest(now, costs)

    def acquire(self, needs: Costs, charges: Costs) -> Steps[float]:
        """Wait, in turn, until every bucket holds `needs`, then take `charges`; returns
        the clock reading at which they were taken."""
        yield from self._turn.acquire()
        try:
            while True:
                now = self.clock()
                at = self.ready(now, needs)
                if at <= now + ROUNDING:
                    self.take(now, charges)
                    return now
                yield Sleep(at - now)
        finally:
            self._turn.release()

    def answered(
        self, reply: Reply, needs: Costs, charges: Costs, after: Costs, taken_at: float
    ) -> None:
        """What one answer tells: an admitted request may be charged more once in
        (`after`); a refusal was charged nothing, but says the copy runs ahead of the
        server (see `behind`)."""
        if reply.outcome != "rate_limited":
            if any(after):
                self.take(self.clock(), after)
            return
        self.refused(reply, needs, charges)

    def refused(self, reply: Reply, needs: Costs, charges: Costs) -> None:
        """A 429: give the charge back and move the copy back to the wait it said;
        without a stated wait, keep the charge (the copy stays that much behind)."""
        if reply.reopens_in is not None:
            self.give_back(charges)
            self.behind(needs, self.clock() + reply.reopens_in)

    def behind(self, needs: Costs, fits_at: float) -> None:
        """The server said a request of `needs` fits at `fits_at`: the bucket the copy
        expects to bind it is moved back to say the same (never forward). A copy runs
        ahead when the server decided earlier requests later than they were sent by
        more than the margin (a starved server), a lag that would otherwise last for
        good while the bucket binds."""
        known = [
            (full - (b.capacity - min(need, b.capacity)) / b.rate, i)
            for i, (b, full, need) in enumerate(
                zip(self.buckets, self.full_at, needs, strict=False)
            )
            if b is not None
        ]
        if not known:
            return
        _, k = max(known)
        bucket = self.buckets[k]
        assert bucket is not None
        room = (bucket.capacity - min(needs[k], bucket.capacity)) / bucket.rate
        self.full_at[k] = max(self.full_at[k], fits_at + room)

    def for_request(
        self, needs: Costs, charges: Costs | None = None, after: After = nothing_after
    ) -> Limiter:
        """The request loop's limiter for one request that needs `needs` to start, is
        charged `charges` then (`needs` if None) and `after(reply)` once answered."""
        return _Costed(self, needs, needs if charges is None else charges, after)


class _Costed(Limiter):
    """One request's view of the shared budget: its acquire asks for its costs."""

    def __init__(self, shared: BucketBudget, needs: Costs, charges: Costs, after: After) -> None:
        self.shared = shared
        self.needs = needs
        self.charges = charges
        self.after = after
        self.taken_at = 0.0  # when this request's current attempt took its costs

    def acquire(self) -> Steps[float]:
        start = self.shared.clock()
        self.taken_at = yield from self.shared.acquire(self.needs, self.charges)
        return self.taken_at - start

    def observe(self, reply: Reply) -> None:
        self.shared.answered(reply, self.needs, self.charges, self.after(reply), self.taken_at)

    def __repr__(self) -> str:
        return f"<Costed {self.needs} of {self.shared!r}>"
