"""The OpenAI cookbook's parallel processor's main loop, as one limiter.

`api_request_parallel_processor.py` sends from one loop, which turns every
`seconds_to_sleep_each_loop` (1 ms); each turn it

1. fills its one slot, if empty: with the head of its retry queue, else with
   the next line of the request file (requests are read one at a time, in
   order, when the slot is free);
2. refills two capacities, requests and tokens, continuously at their
   per-minute rates, capped at a minute's worth (both start full);
3. sends the slot's request if both capacities hold it (one request, its
   estimated tokens), taking that much: a send that is refused paid too;
4. sleeps 1 ms, then, if a rate-limit error came less than 15 s ago, sleeps
   the rest of those 15 s, once, without looking again: a 429 that came
   during the pause is seen only after the next turn, which may send.

A request that comes back with any error goes to the end of the retry
queue at once (no sleep), ahead of every request not yet read; after its
fifth send it is given up. The retry queue is what loses requests: after a
pause the refill lets several go at once, the first 429 comes back within
a turn or two, and the refused request is the next one sent, so one request
can spend its five attempts in a few pauses. Only an error whose message
says "rate limit" starts a pause (the 429 of a request too large for the
TPM does not), and `retry-after` is never read.

Here the loop is not a task of its own: whichever waiting request holds
the loop (`runner`) runs its turns, waits out pauses and capacity as the
loop would have, and hands the loop on when its own request goes. One
liberty: a request whose tokens exceed a minute's worth would wait forever
in the processor's slot, holding up every request after it; here it waits
for a full minute's capacity and goes, to be refused as too large.
"""

from __future__ import annotations

import bisect
import heapq
import time
from collections import deque
from typing import TYPE_CHECKING

from clients.infra.steps import Park, Sleep, Steps, Waiters
from clients.limiters.base import Clock, Limiter
from clients.limiters.budget_window import ROUNDING

if TYPE_CHECKING:
    from clients.infra.attempts import Reply

#: The processor's `seconds_to_pause_after_rate_limit_error`, in scenario seconds.
COOLDOWN = 15.0
#: The processor's `seconds_to_sleep_each_loop`, in scenario seconds.
LOOP = 0.001
#: What the processor looks for in an error's message to pause (lower-cased).
RATE_LIMIT = "rate limit"


class _Ticket:
    """One send waiting in the processor: its request's turn (`order`, file order)."""

    __slots__ = ("charge", "order", "sent", "waiters")

    def __init__(self, order: int, charge: int) -> None:
        self.order = order
        self.charge = charge
        self.sent = False
        self.waiters = Waiters()


class CookbookBudget:
    """The processor's capacities, queues and pauses, in seconds of `clock`.

    `requests`, `tokens`: per `window` (a minute, scaled); `cooldown`: the
    pause after a rate-limit error; `loop`: the main loop's sleep.
    """

    def __init__(
        self,
        requests: int,
        tokens: int,
        window: float,
        cooldown: float,
        loop: float = 0.0,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_requests = float(requests)
        self.max_tokens = float(tokens)
        self.window = window
        self.cooldown = cooldown
        self.loop = loop
        self.clock = clock
        self.requests = float(requests)  # starts full, as the processor does
        self.tokens = float(tokens)
        self.updated = clock()
        self.errors: list[float] = []  # when each rate-limit error came, in order
        self.slot: _Ticket | None = None
        self.retries: deque[_Ticket] = deque()
        self.unread: list[tuple[int, _Ticket]] = []  # first sends, by file order
        self.runner: _Ticket | None = None
        self.turn_due = -float("inf")  # the loop's next pause check, after its 1 ms sleep
        self._created = 0

    def __repr__(self) -> str:
        return (
            f"<CookbookBudget requests {self.requests:.2f}/{self.max_requests:g} tokens "
            f"{self.tokens:.0f}/{self.max_tokens:g} retries {len(self.retries)}>"
        )

    def for_request(self, charge: int) -> Limiter:
        """The limiter of the next request in file order."""
        self._created += 1
        return _Cookbook(self, self._created - 1, charge)

    def rate_limited(self) -> None:
        self.errors.append(self.clock())

    def _refill(self, now: float) -> None:
        elapsed = now - self.updated
        self.requests = min(
            self.max_requests, self.requests + self.max_requests * elapsed / self.window
        )
        self.tokens = min(self.max_tokens, self.tokens + self.max_tokens * elapsed / self.window)
        self.updated = now

    def _last_error(self) -> float:
        return self.errors[-1] if self.errors else -float("inf")

    def acquire(self, order: int, charge: int, retry: bool) -> Steps[float]:
        """Wait until the processor's loop sends this request; returns the seconds waited."""
        start = self.clock()
        me = _Ticket(order, charge)
        if retry:
            self.retries.append(me)
        else:
            heapq.heappush(self.unread, (order, me))
        try:
            while not me.sent:
                if self.runner is None:
                    self.runner = me
                if self.runner is me:
                    yield from self._run(me)
                else:
                    yield Park(me.waiters)  # woken to go, or to run the loop
        finally:
            if not me.sent:  # abandoned (the run's deadline): out of every queue
                self._forget(me)
        return self.clock() - start

    def _run(self, me: _Ticket) -> Steps[None]:
        """The main loop's turns, run by `me` until some request goes: `me`'s own (the
        loop is handed on) or another's (woken to go; `me` runs on)."""
        check = True
        while True:
            now = self.clock()
            if self.turn_due > now:
                yield Sleep(self.turn_due - now)
                now = self.clock()
            pause = self._last_error() + self.cooldown - now
            if check and pause > ROUNDING:
                yield Sleep(pause)  # once: the next turn comes before the next look
                now = self.clock()
            check = True
            if self.slot is None:
                self.slot = self._next()
            slot = self.slot
            assert slot is not None  # `me` at least is waiting
            self._refill(now)
            need = min(float(slot.charge), self.max_tokens)
            if self.requests >= 1 and self.tokens >= need:
                self.requests -= 1
                self.tokens -= need
                self.slot = None
                slot.sent = True
                self.turn_due = now + self.loop
                if slot is me:
                    self._hand_on()
                    return
                slot.waiters.wake_one()
                continue
            # No capacity: the loop turns every 1 ms, looking for a rate-limit
            # error each time; skip to the capacity, then pause after any
            # error that came meanwhile.
            short = max(
                (1 - self.requests) * self.window / self.max_requests,
                (need - self.tokens) * self.window / self.max_tokens,
            )
            yield Sleep(max(short, self.loop, ROUNDING))
            woke = self.clock()
            if bisect.bisect_right(self.errors, now) < len(self.errors):
                pause = self._last_error() + self.cooldown - woke
                if pause > ROUNDING:
                    yield Sleep(pause)
                check = False
            self.turn_due = -float("inf")

    def _next(self) -> _Ticket | None:
        """The slot's next request: the retry queue's head, else the next unread line."""
        if self.retries:
            return self.retries.popleft()
        if self.unread:
            return heapq.heappop(self.unread)[1]
        return None

    def _waiting(self) -> _Ticket | None:
        """Any request still waiting, to run the loop."""
        if self.slot is not None:
            return self.slot
        if self.retries:
            return self.retries[0]
        return self.unread[0][1] if self.unread else None

    def _hand_on(self) -> None:
        """The loop's runner goes: a waiting request runs the loop on, else nobody
        does until one comes (it then starts with the loop's pause check)."""
        self.runner = self._waiting()
        if self.runner is not None:
            self.runner.waiters.wake_one()

    def _forget(self, me: _Ticket) -> None:
        if self.slot is me:
            self.slot = None
        if me in self.retries:
            self.retries.remove(me)
        self.unread = [(o, t) for o, t in self.unread if t is not me]
        heapq.heapify(self.unread)
        if self.runner is me:
            self._hand_on()


class _Cookbook(Limiter):
    """One request's view of the processor: its first acquire reads it from the file,
    every later one takes it from the retry queue."""

    def __init__(self, shared: CookbookBudget, order: int, charge: int) -> None:
        self.shared = shared
        self.order = order
        self.charge = charge
        self.sends = 0

    def acquire(self) -> Steps[float]:
        retry = self.sends > 0
        self.sends += 1
        return (yield from self.shared.acquire(self.order, self.charge, retry))

    def observe(self, reply: Reply) -> None:
        if RATE_LIMIT in reply.detail.lower():
            self.shared.rate_limited()

    def __repr__(self) -> str:
        return f"<Cookbook {self.charge} of {self.shared!r}>"
