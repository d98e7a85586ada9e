"""The token bucket: a limit that refills continuously, as the providers' limits do.

A bucket holds at most `capacity` units and regains `rate` units a wall
second (the time scale applied), up to full. A request draws on one bucket
or several (the OpenAI-compatible endpoint: one of requests, one of tokens)
and goes only if every bucket holds its charge; then it is charged in all of
them, otherwise in none (`BucketStore.take`).

The `limits` library, which keeps the windows (`mock_server.limits`), has no
token bucket; the Python libraries that have one keep one bucket per call,
in whole seconds or whole units of refill, so that two buckets cannot be
charged as one step. This one is ours, written once: `Bucket` holds the
arithmetic, `MemoryBuckets` keeps the state in one process (calls are
synchronous, so no other request runs in between), and
`RedisBuckets` keeps it for every worker, with one
Lua script that checks and charges all the buckets of a request.

State: one number per bucket, the instant it is full again (`full_at`, on
`time.time()`); missing, or past, the bucket is full. Its level at `now` is
`capacity - max(0, full_at - now) x rate`; a charge of `cost` moves `full_at`
`cost / rate` later (from `now` if it had passed). Nothing is rounded, and
a `now` older than the last charge (a worker that read its clock before
another's charge reached Redis) only makes the bucket look emptier: the
charges admitted at instants in [s, e] never exceed `capacity + rate x (e -
s)`, whatever order the workers reach the storage in.

The headers come from the same state (`LimitState`, at the decision's
instant): what is left (whole units), the time until the bucket is full
again, and for a refusal the time until this request's charge fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis
from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage
from limits.util import WindowStats

from mock_server.keys import OPEN_PROJECT, limit_key
from mock_server.limits import Decision, LimitState, Refusal
from mock_server.redis_store import escape_pattern

#: How far past its room a charge may go, in seconds of refill: two readings
#: of `time.time()` (about 1.8e9) differ by a multiple of its float step,
#: 0.24 microseconds, so a bucket exactly full enough must not be refused for
#: the rounding. At a microsecond, a bucket may give `rate x 1e-6` units
#: more than it holds: a thousandth of a bucket that refills in a millisecond.
SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class Bucket:
    """`capacity` units, refilled at `rate` units a wall second, up to full."""

    capacity: int
    rate: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"a bucket needs capacity >= 1 and rate > 0, got {self!r}")

    def behind(self, full_at: float, now: float) -> float:
        """Seconds until it is full again."""
        return max(0.0, full_at - now)

    def level(self, full_at: float, now: float) -> float:
        """The units it holds at `now` (`SLACK` seconds of refill generous, as `fits`)."""
        return self.capacity - max(0.0, self.behind(full_at, now) - SLACK) * self.rate

    def fits(self, full_at: float, now: float, cost: int) -> bool:
        """Whether it holds `cost` at `now`."""
        return self.behind(full_at, now) <= (self.capacity - cost) / self.rate + SLACK

    def charged(self, full_at: float, now: float, cost: int) -> float:
        """`full_at` once `cost` is taken at `now`."""
        return max(full_at, now) + cost / self.rate

    def wait(self, full_at: float, now: float, cost: int) -> float:
        """Seconds from `now` until it holds `cost`, if nothing else is taken
        (infinite for a cost above its capacity)."""
        if cost > self.capacity:
            return math.inf
        room = (self.capacity - cost) / self.rate + SLACK
        return max(0.0, self.behind(full_at, now) - room)

    def state(self, full_at: float, now: float) -> LimitState:
        """What it holds at `now` (whole units: a request of a cost up to
        `remaining` fits) and how long until it is full."""
        return LimitState(
            limit=self.capacity,
            remaining=max(0, math.floor(self.level(full_at, now))),
            reset=self.behind(full_at, now),
        )


@dataclass(frozen=True, slots=True)
class Draw:
    """What one request takes from one bucket: `cost` units of the bucket at
    `key`, if it holds `need` units (None: the cost itself). A need above the
    cost admits on a bucket that is not empty and charges later (Anthropic's
    output tokens, counted as they are produced: `BucketStore.charge`)."""

    key: str
    bucket: Bucket
    cost: int
    need: int | None = None

    @property
    def needed(self) -> int:
        return self.cost if self.need is None else self.need


class BucketStore(Protocol):
    """Where buckets keep their state: one `full_at` per key."""

    def take(self, now: float, draws: Sequence[Draw]) -> tuple[int | None, list[float]]:
        """Charge every draw at `now` if every bucket holds its cost, else none.

        Returns the index of the first draw that did not fit (None: all were
        charged) and each bucket's `full_at` after the decision."""
        ...

    def charge(self, now: float, draws: Sequence[Draw]) -> list[float]:
        """Charge every draw at `now` whatever the buckets hold (a level may go
        below zero: later requests then wait for the refill); each `full_at` after."""
        ...

    def full_at(self, keys: Sequence[str]) -> list[float]:
        """Each bucket's `full_at` (0 for one never charged: full)."""
        ...

    def clear(self, keys: Sequence[str] | None = None) -> None:
        """Fill the buckets at `keys` (None: every bucket of this store)."""
        ...


class MemoryBuckets:
    """Buckets in this process: a dict of `full_at` by key."""

    def __init__(self) -> None:
        self.buckets: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<MemoryBuckets {len(self.buckets)} buckets>"

    def take(self, now: float, draws: Sequence[Draw]) -> tuple[int | None, list[float]]:
        full = [max(self.buckets.get(d.key, 0.0), now) for d in draws]
        for index, (draw, full_at) in enumerate(zip(draws, full, strict=True)):
            if not draw.bucket.fits(full_at, now, draw.needed):
                return index, full
        return None, self.charge(now, draws)

    def charge(self, now: float, draws: Sequence[Draw]) -> list[float]:
        full = [d.bucket.charged(self.buckets.get(d.key, 0.0), now, d.cost) for d in draws]
        for draw, full_at in zip(draws, full, strict=True):
            self.buckets[draw.key] = full_at
        return full

    def full_at(self, keys: Sequence[str]) -> list[float]:
        return [self.buckets.get(key, 0.0) for key in keys]

    def clear(self, keys: Sequence[str] | None = None) -> None:
        if keys is None:
            self.buckets.clear()
        for key in keys or ():
            self.buckets.pop(key, None)


# Take a charge from every bucket of a request, or from none (`Bucket` does
# the same arithmetic).
# KEYS: the buckets. ARGV[1]: now (time.time()); ARGV[2]: the slack in
# seconds (negative: charge without asking, `charge`); then per bucket:
# capacity, rate (units a second), cost, need. Returns the index (from 1) of
# the first bucket that does not hold its need, 0 if all were charged, then
# each bucket's full_at after, as text (Redis would cut a number to an
# integer). A charged bucket expires a second after it is full again: Redis
# counts the time to live from its own idea of now, which may differ from
# the workers' by a little, and a key gone early would fill its bucket early
# (a key kept longer changes nothing: a past full_at reads as full).
TAKE_FROM_BUCKETS = """
local now = tonumber(ARGV[1])
local slack = tonumber(ARGV[2])
local full = {}
local refused = 0
for i = 1, #KEYS do
    local capacity = tonumber(ARGV[4 * i - 1])
    local rate = tonumber(ARGV[4 * i])
    local need = tonumber(ARGV[4 * i + 2])
    local full_at = tonumber(redis.call('get', KEYS[i]) or 0)
    if full_at < now then
        full_at = now
    end
    full[i] = full_at
    if slack >= 0 and refused == 0 and full_at - now > (capacity - need) / rate + slack then
        refused = i
    end
end
if refused == 0 then
    for i = 1, #KEYS do
        full[i] = full[i] + tonumber(ARGV[4 * i + 1]) / tonumber(ARGV[4 * i])
        local ttl = math.ceil((full[i] - now) * 1000) + 1000
        redis.call('set', KEYS[i], string.format('%.17g', full[i]), 'PX', ttl)
    end
end
local answer = {refused}
for i = 1, #KEYS do
    answer[i + 1] = string.format('%.17g', full[i])
end
return answer
"""


class RedisBuckets:
    """Token buckets in Redis: one key per bucket, `bucket/KEY` under the
    storage's own prefix (so that limits' reset of the storage clears them too)."""

    def __init__(self, storage: RedisStorage) -> None:
        self.storage = storage
        self.connection: redis.Redis = storage.storage
        self.script = self.connection.register_script(TAKE_FROM_BUCKETS)

    def __repr__(self) -> str:
        return f"<RedisBuckets {self.key('*')}>"

    def key(self, key: str) -> str:
        return self.storage.prefixed_key(f"bucket/{key}")

    def take(self, now: float, draws: Sequence[Draw]) -> tuple[int | None, list[float]]:
        return self._run(now, SLACK, draws)

    def charge(self, now: float, draws: Sequence[Draw]) -> list[float]:
        return self._run(now, -1.0, draws)[1]

    def _run(
        self, now: float, slack: float, draws: Sequence[Draw]
    ) -> tuple[int | None, list[float]]:
        args: list[Any] = [repr(now), repr(slack)]
        for draw in draws:
            args += [draw.bucket.capacity, repr(draw.bucket.rate), draw.cost, draw.needed]
        answer = self.script([self.key(d.key) for d in draws], args)
        refused = int(answer[0])
        return (refused - 1 if refused else None), [float(x) for x in answer[1:]]

    def full_at(self, keys: Sequence[str]) -> list[float]:
        found = cast(list[Any], self.connection.mget([self.key(k) for k in keys]))
        return [float(x) if x is not None else 0.0 for x in found]

    def clear(self, keys: Sequence[str] | None = None) -> None:
        if keys is None:
            pattern = escape_pattern(self.key("")) + "*"
            keys_found = list(self.connection.scan_iter(pattern))
            if keys_found:
                self.connection.delete(*keys_found)
        elif keys:
            self.connection.delete(*(self.key(k) for k in keys))


def bucket_store(storage: Any) -> BucketStore:
    """The buckets kept beside `storage`: in this process for memory, in the
    same Redis (under its key prefix) for Redis."""
    if isinstance(storage, RedisStorage):
        return RedisBuckets(storage)
    if isinstance(storage, MemoryStorage):
        return MemoryBuckets()
    raise TypeError(f"no token bucket on {type(storage).__name__}: use memory or Redis")


class TwoBuckets:
    """A bucket of requests (each costs 1) and one of tokens (each request costs
    its charge), charged together: the OpenAI-compatible endpoint's limits
    under `--strategy token-bucket` (see `mock_server.limits.TwoLimits` for
    the windows, and why a refused request costs nothing).

    `key` is the budget's (a project's), `namespace` the API's; `clock` is
    `time.time()` unless a test fakes it.
    """

    def __init__(
        self,
        store: BucketStore,
        requests: Bucket,
        tokens: Bucket,
        key: str = limit_key(OPEN_PROJECT),
        clock: Callable[[], float] = time.time,
        namespace: str = "api",
    ) -> None:
        self.store = store
        self.requests = requests
        self.tokens = tokens
        self.keys = (f"{namespace}-requests/{key}", f"{namespace}-tokens/{key}")
        self.clock = clock

    def __repr__(self) -> str:
        return (
            f"<TwoBuckets {self.requests.capacity} requests and {self.tokens.capacity} tokens, "
            f"refilled at {self.requests.rate:g} and {self.tokens.rate:g} a second, {self.store!r}>"
        )

    def admit(self, charge: int) -> Decision:
        """Admit a request of `charge` tokens if both buckets hold its charge;
        charge both if so, neither if not."""
        now = self.clock()
        refused: Refusal | None = None
        if charge > self.tokens.capacity:
            refused = "too-large"
            full = self.store.full_at(self.keys)
        else:
            draws = (
                Draw(self.keys[0], self.requests, 1),
                Draw(self.keys[1], self.tokens, charge),
            )
            index, full = self.store.take(now, draws)
            if index is not None:
                refused = "requests" if index == 0 else "tokens"
        wall_after = self.clock()
        retry_after = None
        if refused in ("requests", "tokens"):
            retry_after = max(
                self.requests.wait(full[0], now, 1), self.tokens.wait(full[1], now, charge)
            )
        return Decision(
            refused,
            charge,
            self.requests.state(full[0], now),
            self.tokens.state(full[1], now),
            retry_after,
            now,
            wall_after,
        )

    def state(self) -> tuple[LimitState, LimitState]:
        """Both buckets as they stand, without admitting anything."""
        now = self.clock()
        full = self.store.full_at(self.keys)
        return self.requests.state(full[0], now), self.tokens.state(full[1], now)

    def reset(self) -> None:
        self.store.clear(self.keys)


class BucketLimiter:
    """A token bucket behind the interface slowapi asks of a limits strategy
    (`hit`, `test`, `get_window_stats`, `clear`), for `/chat`.

    An item of `N` per window becomes a bucket of `N`, refilled at `N` per
    window: at most N at once, and N per window on average.
    `get_window_stats` gives the instant the bucket is full again (what
    `X-RateLimit-Reset` means) and what is left; `wait` the seconds until a
    request fits (what a 429's `Retry-After` means).
    """

    def __init__(self, store: BucketStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def __repr__(self) -> str:
        return f"<BucketLimiter {self.store!r}>"

    @staticmethod
    def _draw(item: RateLimitItem, identifiers: Sequence[str], cost: int) -> Draw:
        bucket = Bucket(item.amount, item.amount / float(item.get_expiry()))
        return Draw(item.key_for(*identifiers), bucket, cost)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        index, _ = self.store.take(self.clock(), [self._draw(item, identifiers, cost)])
        return index is None

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        draw = self._draw(item, identifiers, cost)
        return draw.bucket.fits(self.store.full_at([draw.key])[0], self.clock(), cost)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        draw = self._draw(item, identifiers, 1)
        now = self.clock()
        state = draw.bucket.state(self.store.full_at([draw.key])[0], now)
        return WindowStats(now + state.reset, state.remaining)

    def wait(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> float:
        """Seconds from now until `cost` more fits, if nothing else is taken."""
        draw = self._draw(item, identifiers, cost)
        return draw.bucket.wait(self.store.full_at([draw.key])[0], self.clock(), cost)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self.store.clear([self._draw(item, identifiers, 1).key])
