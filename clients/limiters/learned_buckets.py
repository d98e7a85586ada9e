"""The server's token buckets kept on the client's side, their sizes learned from
the answers rather than told.

Until it knows a limit, the copy holds the batch back to one request: the
first answer's headers name every limit (`anthropic-ratelimit-*-limit`,
`x-ratelimit-limit-*`), and from then on each is a bucket of that many
units a minute (`clients.limiters.bucket_budget.BucketBudget`). With the
headers off the first answer names nothing: the batch goes at once, and
each 429's body names the limit it hit ("rate limit of 50,000 input tokens
per minute", "on tokens per min (TPM): Limit 10000"). Every send is logged
while some limit is unknown, so a limit learned late is a bucket charged
with everything sent since the start, as the server's was: the 429s stop
once each limit has refused once.

The reset a header gives (`-reset`: RFC 3339 at Anthropic, whole seconds
at best; OpenAI's "time until full") moves a copy later only where it says
the bucket is fuller-charged than the copy by more than `RESET_TOLERANCE`
(someone else spends the same budget); the remainders, rounded to the
nearest thousand tokens at Anthropic, are too coarse to steer by. A 429
that teaches nothing pauses every send for the wait it names.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from clients.infra.steps import Steps
from clients.limiters.base import Clock, Limiter, Semaphore
from clients.limiters.bucket_budget import After, BucketBudget, Costs, nothing_after
from mock_server.token_bucket import Bucket

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

#: Wall seconds a header's reset may say later than the copy before the copy moves:
#: an RFC 3339 reset in whole seconds is up to a second late.
RESET_TOLERANCE = 1.0


class LearnedBuckets(BucketBudget):
    """A `BucketBudget` of the limits `names` (the interface's, `clients.infra.llm_api`),
    each unknown until an answer names it. `fallback`: the pause, in seconds of
    `clock`, after a 429 that named no wait."""

    def __init__(
        self,
        names: Sequence[str],
        window: float,
        margin: float,
        fallback: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__([None] * len(names), window, margin, clock=clock)
        self.names = tuple(names)
        self.fallback = fallback
        self.start = clock()
        self.sent: list[tuple[float, Costs]] = []  # every send while a limit is unknown
        self.paused_until = 0.0
        self.open = False  # the first answer has come: the batch may go
        self.gate = Semaphore(1, clock)

    @property
    def known(self) -> dict[str, int]:
        """Each limit learned so far, per minute."""
        return {n: b.capacity for n, b in zip(self.names, self.buckets, strict=True) if b}

    def ready(self, now: float, costs: Costs) -> float:
        return max(self.paused_until, super().ready(now, costs))

    def take(self, now: float, costs: Costs) -> None:
        super().take(now, costs)
        if any(b is None for b in self.buckets):
            self.sent.append((now, costs))

    def answered(
        self, reply: Reply, needs: Costs, charges: Costs, after: Costs, taken_at: float
    ) -> None:
        now = self.clock()
        if reply.outcome == "rate_limited" and (taken_at, charges) in self.sent:
            self.sent.remove((taken_at, charges))  # the server charged it nothing
        # In the buckets known so far first: a bucket learned from this answer is
        # charged from the log of sends, which no longer holds a refused one.
        super().answered(reply, needs, charges, after, taken_at)
        before = self.known
        learned = getattr(reply, "learned", None)
        if learned is not None:
            self.learn(learned.limits, learned.full_in, now)
        if reply.outcome == "rate_limited" and self.known == before:
            wait = reply.reopens_in if reply.reopens_in is not None else self.fallback
            self.paused_until = max(self.paused_until, now + wait)

    def refused(self, reply: Reply, needs: Costs, charges: Costs) -> None:
        """Learning, a 429 without a wait (the headers off) is the usual case: the
        charge is given back, and a pause covers it (`answered`)."""
        if reply.reopens_in is None:
            self.give_back(charges)
        else:
            super().refused(reply, needs, charges)

    def learn(self, limits: Mapping[str, int], resets: Mapping[str, float], now: float) -> None:
        """Take in the limits an answer named and the resets it gave (seconds from `now`
        until each is full)."""
        for i, name in enumerate(self.names):
            amount = limits.get(name)
            bucket = self.buckets[i]
            if amount and (bucket is None or bucket.capacity != amount):
                bucket = Bucket(amount, amount / self.window)
                self.buckets[i] = bucket
                # Charged with every send since the start, as the server's was.
                full = self.start
                for at, costs in self.sent:
                    full = bucket.charged(full, at, costs[i])
                self.full_at[i] = full
            said = resets.get(name)
            if bucket is not None and said is not None:
                self.full_at[i] = max(self.full_at[i], now + said - RESET_TOLERANCE)

    def for_request(
        self, needs: Costs, charges: Costs | None = None, after: After = nothing_after
    ) -> Limiter:
        return _Learning(self, needs, needs if charges is None else charges, after)


class _Learning(Limiter):
    """One request's view: the first request goes alone and opens the gate with its
    answer; every answer teaches the copy."""

    def __init__(self, shared: LearnedBuckets, needs: Costs, charges: Costs, after: After) -> None:
        self.shared = shared
        self.needs = needs
        self.charges = charges
        self.after = after
        self.taken_at = 0.0
        self.probe = False

    def acquire(self) -> Steps[float]:
        shared = self.shared
        start = shared.clock()
        if not shared.open:
            yield from shared.gate.acquire()
            if shared.open:
                shared.gate.release()
            else:
                self.probe = True  # holds the gate until its answer
        self.taken_at = yield from shared.acquire(self.needs, self.charges)
        return self.taken_at - start

    def observe(self, reply: Reply) -> None:
        shared = self.shared
        shared.answered(reply, self.needs, self.charges, self.after(reply), self.taken_at)
        if self.probe:
            self.probe = False
            shared.open = True
            shared.gate.release()

    def __repr__(self) -> str:
        return f"<Learning {self.needs} of {self.shared!r}>"
