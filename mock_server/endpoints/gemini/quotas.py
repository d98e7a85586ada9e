"""The Gemini endpoint's three quotas of a project, and the day clock they run on.

Google's rate-limit page: requests per minute (RPM), input tokens per
minute (TPM) and requests per day (RPD), per project, each checked on its
own ("exceeding any of them will trigger a rate limit error"), the day's
quota resetting at midnight Pacific time. How the minute is enforced the
page does not say. Google's answer on its developer forum is that minute
limits "reset every minute at second 00", and a 429's "Please retry in"
of anything from 0 to 60 s, even for a quota of 0, fits that: windows
aligned on the clock's minutes, the wait being the time to the next one.
So the default here (`fixed-window`) is that: minute windows aligned on the
day clock's start (which is a whole minute of Pacific time), a day window
aligned on midnight. `--strategy gemini=NAME` enforces the two minute
quotas another way (a rolling minute, the sliding-window counter, or a
token bucket holding a minute's worth); the day stays a calendar day.

Admission tests all three before counting any, and counts a request in all
three only if each has room: a refused request costs nothing, and its 429
names every quota it did not fit (Google's lists several at once). The
wait it is told is the time until it would fit all of them if nothing else
arrived (the day's quota: the next day's opening). A request whose input
tokens alone exceed the TPM quota never fits: it is refused with no wait.

The clock: every instant is taken as wall seconds since the clock's start
(`QuotaStore.origin`, `time.time()` when the server started or was last
reset); a minute lasts `minute` wall seconds (60 scenario seconds times the
time scale) and a day `day` wall seconds, the start falling `offset` into
day 0. State lives in a `QuotaStore`: this process's memory, or Redis for
every worker (`mock_server.endpoints.gemini.storage`), test and count made
one step by the store's lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mock_server.token_bucket import Bucket

#: The quotas, in the order a 429 lists them.
QUOTAS = ("rpm", "itpm", "rpd")
#: Slack on window arithmetic: two readings of time.time() differ by its float step.
EPSILON = 1e-9


class QuotaStore(Protocol):
    """Where the quotas of every project keep their state (see `storage`)."""

    def lock(self) -> AbstractContextManager[Any]:
        """Held around a test and its counts, so that no other admission runs between."""
        ...

    def origin(self) -> float:
        """time.time() at which the day clock started."""
        ...

    def start(self, now: float) -> None:
        """The server starts serving: start the clock at `now` unless another
        worker already did."""
        ...

    def restart(self, now: float) -> None:
        """Forget every count and start the clock at `now`."""
        ...

    def numbers(self, keys: Sequence[str]) -> list[float]:
        """The numbers stored at `keys` (0 where there is none)."""
        ...

    def add(self, key: str, amount: int, ttl: float) -> None:
        """Add `amount` to the number at `key`, kept at least `ttl` wall seconds."""
        ...

    def put(self, key: str, value: float, ttl: float) -> None: ...

    def entries(self, key: str, since: float) -> list[tuple[float, int]]:
        """The (stamp, cost) entries at `key` stamped at `since` or later, oldest first."""
        ...

    def append(self, key: str, stamp: float, cost: int, keep: float) -> None:
        """Add an entry; entries older than `stamp - keep` may go."""
        ...


@dataclass(frozen=True, slots=True)
class Window:
    """Aligned windows of `length` wall seconds, the clock's start `offset` into one."""

    length: float
    offset: float = 0.0

    def index(self, elapsed: float) -> int:
        return math.floor((elapsed + self.offset) / self.length + EPSILON)

    def to_end(self, elapsed: float) -> float:
        """Wall seconds from `elapsed` until the window holding it closes."""
        return (self.index(elapsed) + 1) * self.length - self.offset - elapsed


class Quota:
    """One quota of `limit` units under one strategy: read its state, test a
    cost, count it, and say how long until a cost fits."""

    def __init__(self, name: str, limit: int, window: Window) -> None:
        self.name = name
        self.limit = limit
        self.window = window

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.limit} per {self.window.length:g} s>"

    def read(self, store: QuotaStore, key: str, elapsed: float) -> Any:
        raise NotImplementedError

    def fits(self, state: Any, cost: int, elapsed: float) -> bool:
        """Whether `cost` more fits at `elapsed`."""
        raise NotImplementedError

    def wait(self, state: Any, cost: int, elapsed: float) -> float:
        """Wall seconds from `elapsed` until `cost` fits, if nothing else is counted."""
        raise NotImplementedError

    def count(self, store: QuotaStore, key: str, state: Any, cost: int, elapsed: float) -> None:
        raise NotImplementedError


class FixedWindow(Quota):
    """A counter per aligned window: what Google's minute (and day) does."""

    def _key(self, key: str, index: int) -> str:
        return f"{key}:{self.name}:{index}"

    def read(self, store: QuotaStore, key: str, elapsed: float) -> int:
        return int(store.numbers([self._key(key, self.window.index(elapsed))])[0])

    def fits(self, state: int, cost: int, elapsed: float) -> bool:
        return state + cost <= self.limit

    def wait(self, state: int, cost: int, elapsed: float) -> float:
        return 0.0 if self.fits(state, cost, elapsed) else self.window.to_end(elapsed)

    def count(self, store: QuotaStore, key: str, state: int, cost: int, elapsed: float) -> None:
        ttl = self.window.to_end(elapsed) + self.window.length
        store.add(self._key(key, self.window.index(elapsed)), cost, ttl)


class SlidingWindowCounter(Quota):
    """The aligned windows' counts, the previous one weighted by how much of
    it a window-long span ending now still covers."""

    def _key(self, key: str, index: int) -> str:
        return f"{key}:{self.name}:{index}"

    def read(self, store: QuotaStore, key: str, elapsed: float) -> tuple[float, int, int]:
        index = self.window.index(elapsed)
        previous, current = store.numbers([self._key(key, index - 1), self._key(key, index)])
        covered = self.window.to_end(elapsed) / self.window.length  # of the previous window
        return covered, int(previous), int(current)

    def _weighted(self, state: tuple[float, int, int]) -> float:
        covered, previous, current = state
        return previous * covered + current

    def fits(self, state: tuple[float, int, int], cost: int, elapsed: float) -> bool:
        return self._weighted(state) + cost <= self.limit + EPSILON

    def wait(self, state: tuple[float, int, int], cost: int, elapsed: float) -> float:
        if self.fits(state, cost, elapsed):
            return 0.0
        covered, previous, current = state
        length = self.window.length
        to_end = covered * length
        room = self.limit - cost
        if current <= room and previous:
            # The previous window's weight fades linearly to 0 at the window's end.
            return max(0.0, to_end - (room - current) / previous * length)
        # Past the window's end the current count fades over a whole window.
        return to_end + (length * (1 - room / current) if current else 0.0)

    def count(
        self, store: QuotaStore, key: str, state: tuple[float, int, int], cost: int, elapsed: float
    ) -> None:
        ttl = self.window.to_end(elapsed) + 2 * self.window.length
        store.add(self._key(key, self.window.index(elapsed)), cost, ttl)


class MovingWindow(Quota):
    """Every window-long span holds at most `limit`: one entry per admitted request."""

    def _key(self, key: str) -> str:
        return f"{key}:{self.name}:log"

    def read(self, store: QuotaStore, key: str, elapsed: float) -> list[tuple[float, int]]:
        return store.entries(self._key(key), elapsed - self.window.length)

    def fits(self, state: list[tuple[float, int]], cost: int, elapsed: float) -> bool:
        return sum(c for _, c in state) + cost <= self.limit

    def wait(self, state: list[tuple[float, int]], cost: int, elapsed: float) -> float:
        # The entry whose leaving brings the newest entries' sum down to
        # `limit - cost` must leave the window.
        room, counted = self.limit - cost, 0
        for stamp, c in reversed(state):
            counted += c
            if counted > room:
                return max(0.0, stamp + self.window.length - elapsed)
        return 0.0

    def count(
        self, store: QuotaStore, key: str, state: list[tuple[float, int]], cost: int, elapsed: float
    ) -> None:
        store.append(self._key(key), elapsed, cost, self.window.length)


class TokenBucket(Quota):
    """A bucket of a window's worth, refilled continuously at `limit` a window."""

    def __init__(self, name: str, limit: int, window: Window) -> None:
        super().__init__(name, limit, window)
        self.bucket = Bucket(limit, limit / window.length)

    def _key(self, key: str) -> str:
        return f"{key}:{self.name}:full-at"

    def read(self, store: QuotaStore, key: str, elapsed: float) -> float:
        return store.numbers([self._key(key)])[0]  # elapsed at which it is full again

    def fits(self, state: float, cost: int, elapsed: float) -> bool:
        return self.bucket.fits(state, elapsed, cost)

    def wait(self, state: float, cost: int, elapsed: float) -> float:
        return self.bucket.wait(state, elapsed, cost)

    def count(self, store: QuotaStore, key: str, state: float, cost: int, elapsed: float) -> None:
        full_at = self.bucket.charged(state, elapsed, cost)
        store.put(self._key(key), full_at, full_at - elapsed + self.window.length)


MINUTE_QUOTAS: dict[str, type[Quota]] = {
    "fixed-window": FixedWindow,
    "sliding-window-counter": SlidingWindowCounter,
    "moving-window": MovingWindow,
    "token-bucket": TokenBucket,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The admission of one request. Durations in wall seconds."""

    hit: tuple[str, ...]  # the quotas it did not fit, in QUOTAS order; empty: admitted
    too_large: bool  # its input tokens alone exceed the TPM quota: no wait helps
    retry_after: float | None  # until it would fit every quota; None if admitted or too large
    elapsed: float  # since the day clock started, at the decision
    minute: int  # the minute window it was decided in (from 0 at the clock's start)
    day: int  # the day it was decided in (0: the day the clock started in)
    wall: float  # time.time() before the first look at the store
    wall_after: float  # time.time() after the counts

    @property
    def accepted(self) -> bool:
        return not self.hit


class ProjectQuotas:
    """The three quotas of one project (`key`), on `store`."""

    def __init__(
        self,
        store: QuotaStore,
        key: str,
        *,
        strategy: str,
        rpm: int,
        itpm: int,
        rpd: int,
        minute: float,
        day: float,
        offset: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.key = key
        self.minute = Window(minute)
        self.day = Window(day, offset)
        kind = MINUTE_QUOTAS[strategy]
        self.quotas: tuple[Quota, ...] = (
            kind("rpm", rpm, self.minute),
            kind("itpm", itpm, self.minute),
            FixedWindow("rpd", rpd, self.day),
        )
        self.clock = clock

    def __repr__(self) -> str:
        return f"<ProjectQuotas {self.key} {self.quotas!r}>"

    def admit(self, input_tokens: int) -> Verdict:
        """Count a request of `input_tokens` in all three quotas if each has
        room, in none if not."""
        costs = (1, input_tokens, 1)
        with self.store.lock():
            wall = self.clock()
            elapsed = wall - self.store.origin()
            states = [q.read(self.store, self.key, elapsed) for q in self.quotas]
            hit = tuple(
                q.name
                for q, state, cost in zip(self.quotas, states, costs, strict=True)
                if not q.fits(state, cost, elapsed)
            )
            if not hit:
                for q, state, cost in zip(self.quotas, states, costs, strict=True):
                    q.count(self.store, self.key, state, cost, elapsed)
            wall_after = self.clock()
        too_large = input_tokens > self.quotas[1].limit
        retry_after = None
        if hit and not too_large:
            # Each quota's room only grows while nothing else is counted, so the
            # request fits all of them once the last of them has room.
            retry_after = max(
                q.wait(state, cost, elapsed)
                for q, state, cost in zip(self.quotas, states, costs, strict=True)
                if q.name in hit
            )
        return Verdict(
            hit=hit,
            too_large=too_large,
            retry_after=retry_after,
            elapsed=elapsed,
            minute=self.minute.index(elapsed),
            day=self.day.index(elapsed),
            wall=wall,
            wall_after=wall_after,
        )
