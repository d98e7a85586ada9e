"""A discrete-event model of one batch in virtual time: clients against a server's limiter.

Nothing here sleeps or opens a socket. Time is a float of scenario seconds
that jumps from event to event (an event heap), so a run that would take 49 s
on the wall clock takes microseconds.

Clients are written as generators that read almost like the real code: they
`yield Sleep(seconds)`, `yield Send(request, attempt)` (which resumes with
True for 200, False for 429) or `yield Park(queue)` (wait until someone
wakes them). A limiter is a plug-in with `acquire` (a generator) and
`release`, the same two hooks as `clients.limiters.base`, so a client model is
one pairing of a concurrency model and a limiter.

The three server models follow limits 5.x with memory storage, line by line
where it matters (`limits/storage/memory.py`):

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
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from clients.limiters.sliding_log import SlidingLog

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


# --- server models -------------------------------------------------------------------


class ServerModel(Protocol):
    """A rate limiter as the server applies it to each arriving hit."""

    def hit(self, at: float) -> bool:
        """A hit arriving at `at` scenario seconds: True if accepted, False for 429."""
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

    def hit(self, at: float) -> bool:
        if math.floor(self.weighted(at)) + 1 > self.limit:
            return False
        current = int((at + self.phase) / self.window)
        # A counter lives 2T from its first hit, so the previous window's is
        # always still there when it is read: no expiry to model.
        self.counts[current] = self.counts.get(current, 0) + 1
        return True

    def __repr__(self) -> str:
        return f"<SlidingWindowCounter {self.limit}/{self.window:g}s phase={self.phase:.3f}>"


def make_server(strategy: Strategy, limit: int, window: float, phase: float = 0.0) -> ServerModel:
    """The server model for a strategy name; `phase` only matters to the sliding counter."""
    if strategy == "fixed-window":
        return FixedWindow(limit, window)
    if strategy == "moving-window":
        return MovingWindow(limit, window)
    if strategy == "sliding-window-counter":
        return SlidingWindowCounter(limit, window, phase)
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")


# --- the event engine ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sleep:
    """Resume after `seconds` (plus the engine's timer overshoot when > 0)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """One HTTP attempt; resumes with True (200) or False (429) when the answer is back."""

    request: int
    attempt: int


@dataclass(frozen=True, slots=True)
class Park:
    """Wait, appended to `queue`, until a `Simulation.wake` resumes this process."""

    queue: deque[Process]


Command = Sleep | Send | Park
Process = Generator[Command, bool, None]


@dataclass(frozen=True, slots=True)
class SimAttempt:
    """One attempt as the model saw it; times in scenario seconds from the batch's start."""

    request: int
    attempt: int
    sent: float
    arrived: float
    accepted: bool
    finished: float
    latency: float


class Simulation:
    """One batch: processes, a server model and a heap of (time, order, action) events.

    Events at the same time run in the order they were scheduled (FIFO),
    which is the order the event loop or the thread pool would take them in.

    - `latency(rng)`: seconds an accepted hit takes, drawn only for accepted
      hits, in order of acceptance, as the mock server does.
    - `overshoot`: seconds every sleep wakes late. Real timers never wake
      early and usually a little late; this also decides exact ties at
      window edges (a moving window rejects hits exactly T apart) the way a
      real run does.
    - `jitter`: a hit reaches the server `uniform(0, jitter)` seconds after it
      was sent; 0 by default.
    - `deadline`: scenario seconds after which the run stops; None: never.
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
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = 0

    def __repr__(self) -> str:
        return f"<Simulation now={self.now:g}s events={len(self._heap)} attempts={len(self.log)}>"

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run `action` at `when` scenario seconds (never before now)."""
        heapq.heappush(self._heap, (max(when, self.now), self._order, action))
        self._order += 1

    def start(self, process: Process) -> None:
        """Start a process now (after those already started at this time)."""
        self.at(self.now, lambda: self._run(process, None))

    def wake(self, process: Process) -> None:
        """Resume a parked process now."""
        self.at(self.now, lambda: self._run(process, True))

    def run(self) -> bool:
        """Run until no event is left; False if the deadline cut the run short."""
        while self._heap:
            when, _, action = heapq.heappop(self._heap)
            if self.deadline is not None and when > self.deadline:
                self.now = self.deadline
                return False
            self.now = when
            action()
        return True

    def _run(self, process: Process, value: bool | None) -> None:
        try:
            command = next(process) if value is None else process.send(value)
        except StopIteration:
            return
        if isinstance(command, Sleep):
            wait = command.seconds + (self.overshoot if command.seconds > 0 else 0.0)
            self.at(self.now + wait, lambda: self._run(process, True))
        elif isinstance(command, Send):
            sent = self.now
            arrives = sent + (self.rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)
            self.at(arrives, lambda: self._arrive(process, command, sent))
        else:
            command.queue.append(process)

    def _arrive(self, process: Process, send: Send, sent: float) -> None:
        accepted = self.server.hit(self.now)
        # A 429 comes back at once; only accepted hits draw a latency.
        latency = self.latency(self.rng) if accepted else 0.0
        finished = self.now + latency
        self.log.append(
            SimAttempt(send.request, send.attempt, sent, self.now, accepted, finished, latency)
        )
        self.at(finished, lambda: self._run(process, accepted))


# --- limiters (the client's own policy) ---------------------------------------------


class Limiter(Protocol):
    """The two hooks of `clients.limiters.base`, as generators over the engine's commands."""

    def acquire(self, sim: Simulation) -> Generator[Command, bool, None]:
        """Wait until an attempt may go."""
        ...

    def release(self, sim: Simulation) -> None:
        """The attempt that acquired has finished (200 or 429)."""
        ...


class NoLimit:
    """Every attempt goes at once."""

    def acquire(self, sim: Simulation) -> Generator[Command, bool, None]:
        return
        yield  # pragma: no cover - makes this a generator

    def release(self, sim: Simulation) -> None:
        pass


class TokenBucketModel:
    """The write-up's bucket: whole tokens, `last_update` moved only when a token is added.

    `rate` in tokens per scenario second. A waiter short of tokens sleeps
    `(need - tokens) / rate` and tries again; the lock never contends in the
    model because nothing awaits while holding it.
    """

    def __init__(self, rate: float, capacity: int, initial_tokens: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = initial_tokens
        self.last_update = 0.0

    def __repr__(self) -> str:
        return f"<TokenBucketModel tokens={self.tokens}/{self.capacity} rate={self.rate:g}/s>"

    def acquire(self, sim: Simulation) -> Generator[Command, bool, None]:
        while True:
            new_tokens = int((sim.now - self.last_update) * self.rate)
            if new_tokens > 0:
                self.tokens = min(self.capacity, self.tokens + new_tokens)
                self.last_update = sim.now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            yield Sleep((1 - self.tokens) / self.rate)

    def release(self, sim: Simulation) -> None:
        pass


class SlidingLogModel:
    """The `sliding_window` client's own rule (`SlidingLog`) in virtual time.

    At most `limit` sends in any trailing `window + margin` seconds, each as
    early as allowed. With `phase` set (the server is a sliding-window
    counter whose clock reads `now + phase`) it keeps the counter's rule as
    well, on that clock, as the client does when told the server's strategy.
    """

    def __init__(
        self, limit: int, window: float, margin: float, phase: float | None = None
    ) -> None:
        self.rule = SlidingLog(limit, window, margin, counter=phase is not None)
        self.phase = phase or 0.0

    def __repr__(self) -> str:
        return f"<SlidingLogModel {self.rule!r} phase={self.phase:.3f}>"

    def acquire(self, sim: Simulation) -> Generator[Command, bool, None]:
        while True:
            clock = sim.now + self.phase
            at = self.rule.earliest(clock)
            # A wait shorter than a nanosecond is float rounding, and could be
            # too small to move `sim.now` at all.
            if at <= clock + 1e-9:
                self.rule.record(clock)
                return
            yield Sleep(at - clock)

    def release(self, sim: Simulation) -> None:
        pass


class SemaphoreModel:
    """At most `slots` attempts in flight; held per attempt, not during retry sleeps.

    Released slots go to parked waiters first come, first served, as
    asyncio.Semaphore does.
    """

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiters: deque[Process] = deque()

    def __repr__(self) -> str:
        return f"<SemaphoreModel free={self.free} waiters={len(self.waiters)}>"

    def acquire(self, sim: Simulation) -> Generator[Command, bool, None]:
        if self.free > 0:
            self.free -= 1
            return
        yield Park(self.waiters)  # woken by `release`, which hands its slot over

    def release(self, sim: Simulation) -> None:
        if self.waiters:
            sim.wake(self.waiters.popleft())
        else:
            self.free += 1


# --- clients -------------------------------------------------------------------------


def request_process(
    request: int, sleeps: Sequence[float], limiter: Limiter, sim: Simulation
) -> Process:
    """One request's attempts: acquire, send, and on a 429 sleep `sleeps[k]` and retry.

    `len(sleeps) + 1` attempts in all; no sleep after the last failure (the
    request is then failed at once).
    """
    for attempt in range(len(sleeps) + 1):
        if attempt:
            yield Sleep(sleeps[attempt - 1])
        yield from limiter.acquire(sim)
        ok = yield Send(request, attempt)
        limiter.release(sim)
        if ok:
            return


def worker_process(
    queue: deque[int], sleeps: Sequence[float], limiter: Limiter, sim: Simulation
) -> Process:
    """A pool thread: takes the next request when free; blocked during sends and sleeps."""
    while queue:
        yield from request_process(queue.popleft(), sleeps, limiter, sim)
