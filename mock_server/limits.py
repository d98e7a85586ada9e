"""Limits on requests and on tokens, for every API, on the limits library.

A limit is one limits item under one strategy (`LimitWindow`, one class per
strategy in `WINDOWS`), counted in the server's storage. `TwoLimits` holds
an API's two at once, in the same storage and with the same strategy: one
of `--rpm` requests (each costs 1) and one of `--tpm` tokens (each request
costs its charge, `cost=` in limits). A request is admitted only if both
have room, and then counts in both.

Which budget a refused request consumes: none. Both limits are tested
before either is hit, so a request refused by the token limit costs no
request and one refused by the request limit costs no token; a request too
large for the token limit (its charge alone exceeds it) costs nothing
either and is told that waiting will not help. OpenAI's rate-limit guide
says only that "unsuccessful requests contribute to your per-minute limit"
(so that resending at once does not work), not to which of the two; here
they contribute to neither, so that each limit counts exactly what it
admitted, the log's accepted requests are what each window admitted, and
no client is charged by one limit for the other's refusal. It differs on
purpose from `/chat`, where slowapi's fixed window counts a rejected hit as
the write-up's server did.

The test and the hits must be one step. In one worker they are: limits'
calls are synchronous, so no other request runs in between. With
`--workers N` on Redis, a Redis lock around them makes them one step for
the whole server.

The token bucket is not a window: it lives in `mock_server.token_bucket`,
behind the same `Admission` (`TwoBuckets`) and, for `/chat`, the same
interface slowapi asks of a limits strategy (`BucketLimiter`).

Each strategy also answers how long until a given cost fits
(`retry-after`) and until the limit is back to full (`x-ratelimit-reset-*`,
as OpenAI defines them), from the storage's own state: limits' own window
statistics only say when the next single unit frees up.

The fixed window and the sliding-window counter are limits' own: counters,
whatever the cost. The moving window is ours (`MovingWindow`): limits'
stores one timestamp per unit of cost, so a token limit of 100 million held
up to 100 million of them (400 MB after ten requests of 5 million tokens,
a third of a second per admission after that; on Redis a Lua loop long
enough to block the server). Ours keeps one (time, cost) entry per admitted
request, in memory or in a Redis sorted set, and admits exactly what limits'
would: `cost` fits when the costs counted in the last window, plus `cost`,
are at most the limit.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from limits import RateLimitItem
from limits.limits import Granularity
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import STRATEGIES as LIMITS_STRATEGIES

from mock_server.keys import OPEN_PROJECT, limit_key

Refusal = Literal["requests", "tokens", "too-large"]


def window_granularity(seconds: float, prefix: str) -> type[RateLimitItem]:
    """The limits item class of a window of exactly `seconds` (any float).

    limits' rate strings stop at whole units, so a granularity of one window
    is registered (limits keeps a registry of granularities by name) under
    `prefix` and the window's microseconds spelled in letters: granularity
    names must be letters only, and limits' rate strings can then name it
    (`N/<name>`).
    """
    micros = round(seconds * 1e6)
    name = prefix + "".join(chr(ord("a") + int(d)) for d in str(micros))
    return type(
        f"RateLimitItemPer{name.capitalize()}",
        (RateLimitItem,),
        {"GRANULARITY": Granularity(seconds, name)},  # type: ignore[arg-type]
    )


def window_item(amount: int, seconds: float, namespace: str) -> RateLimitItem:
    """A limits item of `amount` per window of `seconds` (any float)."""
    item: RateLimitItem = window_granularity(seconds, "llmwindow")(amount, 1, namespace=namespace)
    return item


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit right after a decision. Durations in wall seconds."""

    limit: int  # per enforced window
    remaining: int
    reset: float  # until the limit is back to full


@dataclass(frozen=True, slots=True)
class Decision:
    """The admission of one request, and both limits as it left them."""

    refused: Refusal | None
    charge: int
    requests: LimitState
    tokens: LimitState
    # Wall seconds until this request would fit both limits, if nothing else
    # arrives; None when admitted, or when waiting cannot help (too large).
    retry_after: float | None
    wall: float  # time.time() before the first look at the storage
    wall_after: float  # time.time() after the hits
    # Of an admitted request: time.time() at which the window it was counted
    # in closes, per limit (None for the moving window, which has no windows).
    requests_window_end: float | None = None
    tokens_window_end: float | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One limit's current window: an interval of time.time() holding its end
    (None: no window), and its counts (previous window, current window)."""

    end: tuple[float, float] | None
    previous: int = 0
    current: int = 0

    @property
    def middle(self) -> float:
        assert self.end is not None
        return (self.end[0] + self.end[1]) / 2


class LimitWindow:
    """One limit under one strategy, in one storage: whether a cost fits,
    counting it, and what the stored state says at `now`.

    The caller tests, then hits only what fitted, with nothing else counted
    in between (see `TwoLimits`); `clock` is the clock the storage reads.
    """

    def __init__(
        self, storage: Any, item: RateLimitItem, key: str, clock: Callable[[], float]
    ) -> None:
        self.storage = storage
        self.item = item
        self.identifier = key
        self.key = item.key_for(key)
        self.window = float(item.get_expiry())
        self.clock = clock  # time.time(), the clock limits reads

    def test(self, cost: int) -> bool:
        """Whether `cost` more fits now."""
        raise NotImplementedError

    def hit(self, cost: int) -> None:
        """Count `cost`, which `test` just said fits."""
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def state(self, now: float) -> LimitState:
        raise NotImplementedError

    def wait(self, cost: int, now: float) -> float:
        """Seconds from `now` until `cost` more fits."""
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        """The current window, if the strategy has windows (the moving window has none)."""
        return Snapshot(None)

    def counted_in(self, before: Snapshot, cost: int) -> float | None:
        """When the window that counted a hit of `cost` closes (time.time()),
        given `snapshot()` taken just before it, and nothing else counted
        since (the caller holds the lock); None if there are no windows."""
        return None


class LimitsWindow(LimitWindow):
    """A strategy of the limits library: it tests, hits and clears."""

    name: ClassVar[str]

    def __init__(
        self, storage: Any, item: RateLimitItem, key: str, clock: Callable[[], float]
    ) -> None:
        super().__init__(storage, item, key, clock)
        self.limiter = LIMITS_STRATEGIES[self.name](storage)

    def test(self, cost: int) -> bool:
        return bool(self.limiter.test(self.item, self.identifier, cost=cost))

    def hit(self, cost: int) -> None:
        self.limiter.hit(self.item, self.identifier, cost=cost)

    def clear(self) -> None:
        self.limiter.clear(self.item, self.identifier)


class FixedWindow(LimitsWindow):
    """One counter per window; the window opens at its first hit."""

    name = "fixed-window"

    def _count_and_end(self, now: float) -> tuple[int, float]:
        count = int(self.storage.get(self.key))
        end = float(self.storage.get_expiry(self.key)) if count else now
        return count, end

    def state(self, now: float) -> LimitState:
        count, end = self._count_and_end(now)
        return LimitState(
            limit=self.item.amount,
            remaining=max(0, self.item.amount - count),
            reset=max(0.0, end - now),
        )

    def snapshot(self) -> Snapshot:
        start = self.clock()
        count = int(self.storage.get(self.key))
        if not count:
            return Snapshot(None)
        end = float(self.storage.get_expiry(self.key))  # Redis: its TTL, read at most this late
        return Snapshot((end - (self.clock() - start) - 0.001, end + 0.001), 0, count)

    def counted_in(self, before: Snapshot, cost: int) -> float | None:
        # Only this hit counted since `before`, so the window after it tells:
        # none, the hit was the old window's last; one ending a good part of
        # a window later, the hit opened it; else the same window.
        after = self.snapshot()
        if after.end is None:
            return before.middle if before.end is not None else None
        if before.end is None or after.middle - before.middle > self.window / 2:
            return after.middle
        return before.middle

    def wait(self, cost: int, now: float) -> float:
        count, end = self._count_and_end(now)
        return 0.0 if count + cost <= self.item.amount else max(0.0, end - now)


class RequestLog(Protocol):
    """Where a moving window keeps its entries: one (time, cost) per admitted request."""

    def entries(self, since: float) -> Sequence[tuple[float, int]]:
        """The entries stamped at `since` or later, oldest first."""
        ...

    def add(self, stamp: float, cost: int, keep: float) -> None:
        """Add one entry; entries older than `stamp - keep` may go."""
        ...

    def clear(self) -> None: ...


class MemoryRequestLog:
    """A `RequestLog` in this process: a deque, oldest first."""

    def __init__(self) -> None:
        self.log: deque[tuple[float, int]] = deque()

    def __repr__(self) -> str:
        return f"<MemoryRequestLog {len(self.log)} entries>"

    def entries(self, since: float) -> Sequence[tuple[float, int]]:
        # Entries are added in time order (one process, under its own clock),
        # so the old ones are at the left.
        while self.log and self.log[0][0] < since:
            self.log.popleft()
        return self.log

    def add(self, stamp: float, cost: int, keep: float) -> None:
        self.entries(stamp - keep)
        self.log.append((stamp, cost))

    def clear(self) -> None:
        self.log.clear()


def request_log(storage: Any, key: str) -> RequestLog:
    """The request log of `key` in `storage`: in memory, or a sorted set in Redis."""
    if isinstance(storage, RedisStorage):
        from mock_server.redis_store import RedisRequestLog

        return RedisRequestLog(storage, key)
    if isinstance(storage, MemoryStorage):
        return MemoryRequestLog()
    raise TypeError(f"no moving window on {type(storage).__name__}: use memory or Redis")


class MovingWindow(LimitWindow):
    """A log of admitted requests; the limit holds in every window-long span.

    Admits what limits' moving window admits (an entry counts while it is at
    most a window old), with one entry per request where limits keeps one
    per unit of cost.
    """

    def __init__(
        self, storage: Any, item: RateLimitItem, key: str, clock: Callable[[], float]
    ) -> None:
        super().__init__(storage, item, key, clock)
        self.log = request_log(storage, self.key)

    def __repr__(self) -> str:
        return f"<MovingWindow {self.item.amount} per {self.window:g} s, {self.log!r}>"

    def _entries(self, now: float) -> Sequence[tuple[float, int]]:
        return self.log.entries(now - self.window)

    def test(self, cost: int) -> bool:
        counted = sum(c for _, c in self._entries(self.clock()))
        return counted + cost <= self.item.amount

    def hit(self, cost: int) -> None:
        self.log.add(self.clock(), cost, self.window)

    def clear(self) -> None:
        self.log.clear()

    def state(self, now: float) -> LimitState:
        entries = self._entries(now)
        counted = sum(c for _, c in entries)
        return LimitState(
            limit=self.item.amount,
            remaining=max(0, self.item.amount - counted),
            reset=max(0.0, entries[-1][0] + self.window - now) if entries else 0.0,
        )

    def wait(self, cost: int, now: float) -> float:
        # `cost` fits once the newest entries still counted hold at most
        # `limit - cost`: the entry that takes the sum past that, newest
        # first, must leave the window.
        room = self.item.amount - cost
        counted = 0
        for stamp, c in reversed(self._entries(now)):
            counted += c
            if counted > room:
                return max(0.0, stamp + self.window - now)
        return 0.0


class SlidingWindowCounter(LimitsWindow):
    """Two fixed windows, the previous one weighted by how much of it the
    sliding window still covers."""

    name = "sliding-window-counter"

    def _window(self) -> tuple[int, float, int, float]:
        """(previous count, seconds until the current window ends, current count)."""
        previous, previous_ttl, current, current_ttl = self.storage.get_sliding_window(
            self.key, self.window
        )
        # The current counter lives two windows; the previous one until the current ends.
        to_end = current_ttl - self.window if current_ttl > 0 else previous_ttl
        return int(previous), float(previous_ttl), int(current), max(0.0, float(to_end))

    def _weighted(self, previous: int, previous_ttl: float, current: int) -> float:
        return previous * previous_ttl / self.window + current

    def state(self, now: float) -> LimitState:
        previous, previous_ttl, current, to_end = self._window()
        weighted = self._weighted(previous, previous_ttl, current)
        if current:
            reset = to_end + self.window
        elif previous:
            reset = to_end
        else:
            reset = 0.0
        return LimitState(
            limit=self.item.amount,
            remaining=max(0, self.item.amount - math.floor(weighted)),
            reset=reset,
        )

    def snapshot(self) -> Snapshot:
        start = self.clock()
        previous, previous_ttl, current, current_ttl = self.storage.get_sliding_window(
            self.key, self.window
        )
        end = self.clock()
        if current_ttl <= 0 and previous_ttl <= 0:
            return Snapshot(None)  # Redis: no window until the first hit opens one
        to_end = current_ttl - self.window if current_ttl > 0 else previous_ttl
        # The storage measured to_end somewhere between start and end (Redis
        # in whole milliseconds, rounded down).
        return Snapshot((start + to_end, end + to_end + 0.001), int(previous), int(current))

    def counted_in(self, before: Snapshot, cost: int) -> float | None:
        after = self.snapshot()
        if after.end is None:
            return None
        if before.end is None or abs(after.middle - before.middle) < self.window / 2:
            return after.middle
        # A window closed around the hit: the counts tell which one took it
        # (only this hit counted since `before`).
        if after.previous == before.current + cost:
            return before.middle
        if after.previous == before.current and after.current == cost:
            return after.middle
        return None

    def wait(self, cost: int, now: float) -> float:
        # limits admits `cost` when floor(weighted) + cost <= limit, that is
        # weighted < room with room = limit - cost + 1. Within the current
        # window the previous count fades linearly; after it, the current
        # count becomes the previous one and fades over a whole window.
        previous, previous_ttl, current, to_end = self._window()
        room = self.item.amount - cost + 1
        if self._weighted(previous, previous_ttl, current) < room:
            return 0.0
        if current < room and previous:
            t = to_end - (room - current) * self.window / previous
            if 0 <= t < to_end:
                return t
        fade = self.window * (1 - room / current) if current else 0.0
        return to_end + max(0.0, fade)


WINDOWS: dict[str, type[LimitWindow]] = {
    "fixed-window": FixedWindow,
    "moving-window": MovingWindow,
    "sliding-window-counter": SlidingWindowCounter,
}


class Admission(Protocol):
    """An API's limits on requests and tokens, as its routes use them: two
    windows (`TwoLimits`) or two token buckets (`token_bucket.TwoBuckets`)."""

    def admit(self, charge: int) -> Decision:
        """Admit a request of `charge` tokens if both limits have room, counting it
        in both; in neither if not."""
        ...

    def state(self) -> tuple[LimitState, LimitState]:
        """Both limits as they stand, without admitting anything."""
        ...

    def reset(self) -> None: ...


class TwoLimits:
    """`requests` per window (cost 1 each) and `tokens` per window (cost: the
    charge), with one strategy on one storage; see the module.

    `lock` makes test-and-hit one step across processes (a Redis lock with
    several workers); in one process the calls are synchronous already.
    `key` is the budget's (a project's, `keys.limit_key`), `namespace` the
    API's, which names both items. `clock` must be the clock the storage reads.
    """

    def __init__(
        self,
        strategy: str,
        storage: Storage,
        requests: int,
        tokens: int,
        window: float,
        lock: Callable[[], AbstractContextManager[Any]] | None = None,
        key: str = limit_key(OPEN_PROJECT),
        clock: Callable[[], float] = time.time,
        namespace: str = "api",
    ) -> None:
        self.strategy_name = strategy
        self.storage = storage
        self.key = key
        self.requests_item = window_item(requests, window, f"{namespace}-requests")
        self.tokens_item = window_item(tokens, window, f"{namespace}-tokens")
        self.clock = clock  # time.time() unless a test fakes it: limits reads time.time() too
        window_type = WINDOWS[strategy]
        self.requests_window = window_type(storage, self.requests_item, key, clock)
        self.tokens_window = window_type(storage, self.tokens_item, key, clock)
        self.lock = lock or contextlib.nullcontext

    def __repr__(self) -> str:
        return (
            f"<TwoLimits {self.requests_item.amount} requests and {self.tokens_item.amount} "
            f"tokens per {self.requests_window.window:g} s, {self.strategy_name}>"
        )

    def admit(self, charge: int) -> Decision:
        """Admit a request of `charge` tokens if both limits have room; count it
        in both if so, in neither if not."""
        requests_end = tokens_end = None
        with self.lock():
            wall = self.clock()
            refused: Refusal | None
            if charge > self.tokens_item.amount:
                refused = "too-large"
            elif not self.requests_window.test(1):
                refused = "requests"
            elif not self.tokens_window.test(charge):
                refused = "tokens"
            else:
                # Which windows will count it: read around the hits, before
                # anyone else may hit (for the log, which is checked window
                # by window).
                requests_before = self.requests_window.snapshot()
                tokens_before = self.tokens_window.snapshot()
                # Both tested under the lock: the hits cannot fail (time only
                # frees room between a test and its hit).
                self.requests_window.hit(1)
                self.tokens_window.hit(charge)
                requests_end = self.requests_window.counted_in(requests_before, 1)
                tokens_end = self.tokens_window.counted_in(tokens_before, charge)
                refused = None
            wall_after = self.clock()
        # What the headers say is read after the lock: with several workers,
        # another request may have counted since (as on any real server).
        requests = self.requests_window.state(wall_after)
        tokens = self.tokens_window.state(wall_after)
        retry_after = None
        if refused in ("requests", "tokens"):
            retry_after = max(
                self.requests_window.wait(1, wall_after),
                self.tokens_window.wait(charge, wall_after),
            )
        return Decision(
            refused,
            charge,
            requests,
            tokens,
            retry_after,
            wall,
            wall_after,
            requests_window_end=requests_end,
            tokens_window_end=tokens_end,
        )

    def state(self) -> tuple[LimitState, LimitState]:
        """Both limits as they stand, without admitting anything."""
        now = self.clock()
        return self.requests_window.state(now), self.tokens_window.state(now)

    def reset(self) -> None:
        self.requests_window.clear()
        self.tokens_window.clear()
