"""A discrete-event model of one batch in virtual time: clients against a server's limiter.

Nothing here sleeps or opens a socket. Time is a float of scenario seconds
that jumps from event to event (an event heap), so a run that would take 49 s
on the wall clock takes microseconds.

What runs in it is the clients' own code: the request loop
(`clients.infra.loop`) and the limiters (`clients.limiters`) are generators
of steps (`clients.infra.steps`: sleep, send, park), and `Simulation` is
their third driver, beside asyncio and threads. It answers each `Send`
from a model of the server's limiter instead of a socket.

The window models follow limits 5.x with memory storage, line by line
where it matters (`limits/storage/memory.py`), and the bucket the server's
own code:

- `fixed-window`: the counter's expiry is set by the first hit, so the window
  opens at the first hit after the previous one expired and lasts T; a
  rejected hit is still counted (`incr` happens before the comparison);
  a hit arriving exactly at the expiry opens a new window (`expiry <= now`).
- `moving-window`: only accepted hits are recorded (`acquire_entry`); a hit
  is rejected while the L-th most recent accepted hit is at or after
  `now - T` (so two hits exactly T apart collide).
- `sliding-window-counter`: two counters per window aligned to multiples of
  T on the server's clock (`time.time()`); a hit is accepted when
  `floor(previous * (1 - fraction into the window) + current) + 1 <= L`;
  rejected hits are not counted. Because the windows are aligned to the
  clock, not to the batch, each run draws the batch's phase in the window.
- `token-bucket`: `mock_server.token_bucket`'s `Bucket` in its
  `MemoryBuckets`, the code the server runs: a bucket of L, full at the
  start, refilled continuously at L per T; a refused hit costs nothing and
  is told how long until one unit fits (`X-RateLimit-Reset-After`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from clients.infra.attempts import Reply
from clients.infra.steps import Park, Send, Sleep, Steps, unsupported
from mock_server.token_bucket import Bucket, Draw, MemoryBuckets
from mock_server.vocabulary import STRATEGIES, Strategy

# --- server models -------------------------------------------------------------------


class ServerModel(Protocol):
    """A rate limiter as the server applies it to each arriving hit."""

    def hit(self, at: float) -> bool:
        """A hit arriving at `at` scenario seconds: True if accepted, False for 429."""
        ...

    def refused(self, at: float) -> Reply:
        """The 429 of a hit refused at `at`: what its headers tell a client. The
        windows' models give the status alone (no modelled client of `/chat` reads
        their reset); the bucket's, the wait until one unit fits."""
        ...


@dataclass(slots=True)
class FixedWindow:
    """limits' fixed window with memory storage: anchored at the first hit, rejections count."""

    limit: int
    window: float
    #: (opened at, hits counted) for every window this server opened, in order.
    windows: list[tuple[float, int]] = field(default_factory=list)
    _expires: float = -math.inf

    def hit(self, at: float) -> bool:
        if self._expires <= at:
            self._expires = at + self.window
            self.windows.append((at, 0))
        opened, count = self.windows[-1]
        count += 1  # counted before the comparison, so a 429 still uses up the window
        self.windows[-1] = (opened, count)
        return count <= self.limit

    def refused(self, at: float) -> Reply:
        return REJECTED

    def __repr__(self) -> str:
        return f"<FixedWindow {self.limit}/{self.window:g}s windows={len(self.windows)}>"


@dataclass(slots=True)
class MovingWindow:
    """limits' moving window: at most L accepted hits in any window [t - T, t]."""

    limit: int
    window: float
    accepted: list[float] = field(default_factory=list)

    def hit(self, at: float) -> bool:
        if len(self.accepted) >= self.limit:
            lth_most_recent = self.accepted[-self.limit]
            # limits rejects on `entry.atime >= timestamp - expiry`: ">=", not ">".
            if lth_most_recent >= at - self.window:
                return False
        self.accepted.append(at)
        return True

    def refused(self, at: float) -> Reply:
        return REJECTED

    def __repr__(self) -> str:
        return f"<MovingWindow {self.limit}/{self.window:g}s accepted={len(self.accepted)}>"


@dataclass(slots=True)
class SlidingWindowCounter:
    """limits' sliding window counter; `phase` is where in a clock window the batch starts.

    The server's clock reads `at + phase`; windows are [kT, (k+1)T) on that clock.
    """

    limit: int
    window: float
    phase: float = 0.0
    counts: dict[int, int] = field(default_factory=dict)

    def weighted(self, at: float) -> float:
        """The count limits compares with L for a hit arriving at `at` (before it counts)."""
        clock = at + self.phase
        current = int(clock / self.window)
        previous_count = self.counts.get(current - 1, 0)
        # Same arithmetic as `_get_sliding_window_info`, so ties round the same way.
        previous_ttl = (
            (1 - (((clock - self.window) / self.window) % 1)) * self.window
            if previous_count
            else 0.0
        )
        return previous_count * previous_ttl / self.window + self.counts.get(current, 0)

    def admits(self, at: float, cost: int = 1) -> bool:
        """Whether a hit of `cost` arriving at `at` fits (limits' `test`, with `cost=`)."""
        return math.floor(self.weighted(at)) + cost <= self.limit

    def hit(self, at: float, cost: int = 1) -> bool:
        if not self.admits(at, cost):
            return False
        current = int((at + self.phase) / self.window)
        # A counter lives 2T from its first hit, so the previous window's is
        # always still there when it is read: no expiry to model.
        self.counts[current] = self.counts.get(current, 0) + cost
        return True

    def refused(self, at: float) -> Reply:
        return REJECTED

    def __repr__(self) -> str:
        return f"<SlidingWindowCounter {self.limit}/{self.window:g}s phase={self.phase:.3f}>"


class TokenBucket:
    """The server's token bucket (`mock_server.token_bucket`, its own code): `limit`
    at most, full at the start, refilled at `limit` per `window` seconds; a refused
    hit costs nothing."""

    __slots__ = ("draw", "store")

    def __init__(self, limit: int, window: float) -> None:
        self.draw = Draw("chat", Bucket(limit, limit / window), 1)
        self.store = MemoryBuckets()

    def hit(self, at: float) -> bool:
        first_short, _ = self.store.take(at, (self.draw,))
        return first_short is None

    def refused(self, at: float) -> Reply:
        (full_at,) = self.store.full_at((self.draw.key,))
        return Reply(429, "rate_limited", reopens_in=self.draw.bucket.wait(full_at, at, 1))

    def __repr__(self) -> str:
        return f"<TokenBucket {self.draw.bucket!r} {self.store!r}>"


def make_server(strategy: Strategy, limit: int, window: float, phase: float = 0.0) -> ServerModel:
    """The server model for a strategy name; `phase` only matters to the sliding counter."""
    if strategy == "fixed-window":
        return FixedWindow(limit, window)
    if strategy == "moving-window":
        return MovingWindow(limit, window)
    if strategy == "sliding-window-counter":
        return SlidingWindowCounter(limit, window, phase)
    if strategy == "token-bucket":
        return TokenBucket(limit, window)
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")


# --- the driver: the clients' own request loops, in virtual time -------------------

#: A reply to hand back to the request loop: the server's status only (no
#: body, no headers), as the clients' transports would turn it into a `Reply`.
OK = Reply(200, "ok", "hello world")
REJECTED = Reply(429, "rate_limited")


@dataclass(frozen=True, slots=True)
class SimAttempt:
    """One attempt as the server saw it; times in scenario seconds from the batch's start."""

    request: int
    attempt: int
    sent: float
    arrived: float
    accepted: bool
    finished: float
    latency: float


class Simulation:
    """One batch: the request loops, a server model and a heap of (time, order, action) events.

    The third driver of `clients.infra.steps`, beside asyncio and threads:
    it carries out the steps of the clients' own request loops and limiters
    in virtual time (`clock()`, scenario seconds), each step at once, so
    code between two yields is atomic here too. Events at the same time run
    in the order they were scheduled (FIFO), which is the order the event
    loop or the thread pool would take them in. `Await` steps (asyncio-only
    limiters) cannot run here.

    - `latency(rng)`: seconds an accepted hit takes, drawn only for accepted
      hits, in order of acceptance, as the mock server does.
    - `overshoot`: seconds every sleep wakes late. Real timers never wake
      early and usually a little late; this also decides exact ties at
      window edges (a moving window rejects hits exactly T apart) the way a
      real run does.
    - `jitter`: a hit reaches the server `uniform(0, jitter)` seconds after it
      was sent; 0 by default.
    - `deadline`: scenario seconds after which the run stops; None: never.
      The generators still running then are closed, as the asyncio driver
      cancels its tasks: an attempt on the wire is recorded as a timeout.
    """

    def __init__(
        self,
        server: ServerModel,
        latency: Callable[[random.Random], float],
        rng: random.Random,
        *,
        overshoot: float = 0.0,
        jitter: float = 0.0,
        deadline: float | None = None,
    ) -> None:
        self.server = server
        self.latency = latency
        self.rng = rng
        self.overshoot = overshoot
        self.jitter = jitter
        self.deadline = deadline
        self.now = 0.0
        self.log: list[SimAttempt] = []
        # (time, order, generator, what to resume it with, send time) per event:
        # plain tuples, no closure per event. An event with a Send for value is
        # that attempt reaching the server (sent at the last field); any other
        # resumes the generator with the value. `order` keeps ties FIFO.
        self._heap: list[tuple[float, int, Steps[object], object, float]] = []
        self._order = 0
        self._started: list[Steps[object]] = []

    def __repr__(self) -> str:
        return f"<Simulation now={self.now:g}s events={len(self._heap)} attempts={len(self.log)}>"

    def clock(self) -> float:
        """Virtual time, scenario seconds since the batch's start: the limiters' clock."""
        return self.now

    def _resume_at(
        self, when: float, steps: Steps[object], value: object, sent: float = 0.0
    ) -> None:
        # Never before now: a 0-second sleep or a wake-up runs after what is due now.
        heapq.heappush(
            self._heap, (when if when > self.now else self.now, self._order, steps, value, sent)
        )
        self._order += 1

    def start(self, steps: Steps[object]) -> None:
        """Start a generator now (after those already started at this time)."""
        self._started.append(steps)
        self._resume_at(self.now, steps, None)

    def run(self) -> bool:
        """Run until no event is left; False if the deadline cut the run short."""
        heap, pop, deadline = self._heap, heapq.heappop, self.deadline
        while heap:
            when, _, steps, value, sent = pop(heap)
            if deadline is not None and when > deadline:
                self.now = deadline
                for started in self._started:
                    started.close()
                return False
            self.now = when
            if isinstance(value, Send):
                self._arrive(steps, value, sent)
            else:
                self._step(steps, value)
        return True

    def _step(self, steps: Steps[object], value: object) -> None:
        try:
            step = steps.send(value)
        except StopIteration:
            return
        if isinstance(step, Sleep):
            wait = step.seconds + (self.overshoot if step.seconds > 0 else 0.0)
            self._resume_at(self.now + wait, steps, None)
        elif isinstance(step, Send):
            sent = self.now
            arrives = sent + (self.rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)
            self._resume_at(arrives, steps, step, sent)
        elif isinstance(step, Park):
            step.queue.park(step, lambda: self._resume_at(self.now, steps, None))
        else:
            steps.close()
            raise unsupported(step, "simulator")

    def decide(self, send: Send) -> tuple[Reply, float]:
        """The server's answer to `send` arriving now, and the seconds it takes."""
        if self.server.hit(self.now):
            return OK, self.latency(self.rng)
        # A 429 comes back at once; only accepted hits draw a latency.
        return self.server.refused(self.now), 0.0

    def _arrive(self, steps: Steps[object], send: Send, sent: float) -> None:
        reply, latency = self.decide(send)
        finished = self.now + latency
        accepted = reply.outcome == "ok"
        self.log.append(
            SimAttempt(send.request, send.attempt, sent, self.now, accepted, finished, latency)
        )
        self._resume_at(finished, steps, reply)
