"""The server's shared state on Redis, for `--workers N --storage redis://...`.

Three things must be one across all worker processes, or each worker would
keep its own: the limiter's counters, the arrival log, and the latency draw.

- `MillisecondRedisStorage`: limits' own Redis storage, with its windows set
  in milliseconds. limits sets a fixed window's expiry with `EXPIRE`, which
  takes whole seconds: at time scale 0.1 a `2/second` window is 0.1 s, which
  Redis refuses ("value is not an integer"). This storage keeps limits'
  algorithms and keys and changes only the unit: `PEXPIRE`/`PTTL` instead of
  `EXPIRE`/`TTL` (so a window's reset is also read to the millisecond, where
  `TTL` would round it to a second). A scaled window must therefore be a
  whole number of milliseconds; the settings say so up front
  (`vocabulary.check_redis_window`).
- `RedisRequestLog`: the moving window of an API's limits (see
  `mock_server.limits.MovingWindow`), one sorted-set member per
  admitted request, scored by its time.
- `SharedLog`: every worker writes its log entries to one Redis hash,
  indexed by arrival in a sorted set, and `/log` reads them back in arrival
  order, a page at a time if asked.
- `SharedDraws`: the k-th request accepted by any worker gets the k-th draw of
  `random.Random(seed)`, exactly as a single process would give it.

Every key a server writes starts with its own prefix
(`ServerSettings.redis_prefix`, made before the workers fork): limits'
counters under `PREFIX:limits:` (limits' `key_prefix`, so that `/reset`,
which asks limits to clear its keys, clears only this server's), the log,
draws and locks under `PREFIX:`. A server deletes nothing else, so another
server or application may use the same database.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, cast

import redis
from limits.storage import RedisStorage

from mock_server.log import LogEntry
from mock_server.vocabulary import RatebenchError, whole_milliseconds

SCHEME = "ratebench+redis"

# limits' incr_expire.lua, with PEXPIRE: the fixed window opens at the first hit.
INCR_PEXPIRE = """
local current = redis.call('incrby', KEYS[1], tonumber(ARGV[2]))
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call('pexpire', KEYS[1], ARGV[1])
end
return current
"""

# limits' acquire_moving_window.lua, with PEXPIRE (ARGV[5]: the window in ms).
ACQUIRE_MOVING_WINDOW = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
if amount > limit then
    return false
end
local entry = redis.call('lindex', KEYS[1], limit - amount)
if entry and tonumber(entry) >= timestamp - expiry then
    return false
end
for i = 1, amount do
    redis.call('lpush', KEYS[1], timestamp)
end
redis.call('ltrim', KEYS[1], 0, limit - 1)
redis.call('pexpire', KEYS[1], ARGV[5])
return true
"""


class RedisWindowError(RatebenchError):
    """A window Redis cannot hold to the millisecond."""


def milliseconds(seconds: float) -> int:
    """`seconds` as whole milliseconds; RedisWindowError if it is not one."""
    if not whole_milliseconds(seconds):
        raise RedisWindowError(f"a window of {seconds:g} s is not a whole number of milliseconds")
    return round(seconds * 1000)


class MillisecondRedisStorage(RedisStorage):
    """limits' `RedisStorage`, with expiries in milliseconds.

    Registered with limits under the scheme `ratebench+redis://`, so that
    slowapi builds it from its `storage_uri` like any other storage; the URI
    is otherwise a plain `redis://` one.
    """

    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012  # limits reads it from the class body

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.replace(f"{SCHEME}://", "redis://", 1), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.connection: redis.Redis = self.storage
        self.lua_incr_pexpire = self.connection.register_script(INCR_PEXPIRE)
        self.lua_acquire_moving_window_ms = self.connection.register_script(ACQUIRE_MOVING_WINDOW)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        return int(self.lua_incr_pexpire([self.prefixed_key(key)], [milliseconds(expiry), amount]))

    def get_expiry(self, key: str) -> float:
        pttl = int(self.connection.pttl(self.prefixed_key(key)))
        return max(pttl, 0) / 1000 + time.time()

    def acquire_entry(self, key: str, limit: int, expiry: float, amount: int = 1) -> bool:
        return bool(
            self.lua_acquire_moving_window_ms(
                [self.prefixed_key(key)],
                [time.time(), limit, expiry, amount, milliseconds(expiry)],
            )
        )


class RedisRequestLog:
    """A moving window's entries (one per admitted request) in a sorted set.

    The score is the request's time.time(); the member is its cost, made
    unique with a random suffix (two requests may share a stamp). The set
    lives under the storage's own prefix, expires a window after its last
    entry, and drops older entries when one is added. The caller makes
    reading and adding one step (the admission lock of `TwoLimits`).
    """

    def __init__(self, storage: RedisStorage, key: str) -> None:
        self.connection: redis.Redis = storage.storage
        self.key = storage.prefixed_key(key)

    def __repr__(self) -> str:
        return f"<RedisRequestLog {self.key}>"

    def entries(self, since: float) -> list[tuple[float, int]]:
        found: list[tuple[bytes, float]] = self.connection.zrangebyscore(  # type: ignore[assignment]
            self.key, repr(since), "+inf", withscores=True
        )
        return [(float(score), int(member.split(b":", 1)[0])) for member, score in found]

    def add(self, stamp: float, cost: int, keep: float) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self.key, "-inf", f"({stamp - keep!r}")
            pipe.zadd(self.key, {f"{cost}:{os.urandom(6).hex()}": stamp})
            pipe.pexpire(self.key, milliseconds(keep))
            pipe.execute()

    def clear(self) -> None:
        self.connection.delete(self.key)


def limiter_uri(storage: str) -> str:
    """The `storage_uri` to hand slowapi for `--storage`."""
    if storage.startswith("redis://"):
        return SCHEME + storage[len("redis") :]
    return storage


def limiter_options(storage: str, prefix: str) -> dict[str, str]:
    """The storage options to hand limits with `limiter_uri(storage)`: on
    Redis, the server's own key prefix."""
    return {"key_prefix": f"{prefix}:limits"} if storage.startswith("redis://") else {}


class SharedLog:
    """The arrival log of every worker, in one Redis hash.

    Each entry is written (whole, as JSON) when the limiter has decided it,
    again when its status is known (before the first byte of the response
    leaves, so a client never holds an answer the log does not show), and
    once more when the response has left. `clear` records the instant of the
    reset, and `entries` leaves out anything that arrived before it: a request
    still in flight across a reset cannot reappear in the new log.

    A sorted set (`order_key`, scored by arrival) keeps the entries in
    arrival order, so that a page of the log costs Redis the page, not the
    whole log.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}:log"
        self.order_key = f"{prefix}:log-order"
        self.reset_key = f"{prefix}:log-reset"
        self.worker = os.getpid()

    def save(self, entry: LogEntry) -> None:
        field = f"{self.worker}:{entry.seq}"
        with self.client.pipeline() as pipe:
            pipe.hset(self.key, field, json.dumps(asdict(entry)))
            pipe.zadd(self.order_key, {field: entry.arrival}, nx=True)
            pipe.execute()

    def entries(self, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        """Entries `start` to `end` (exclusive; None: the last) since the last
        reset, in the order all workers together saw them (`seq` is that rank).

        An entry that arrived before one already read but was saved after it
        (its worker decided later) moves the ranks after it: read a log whose
        requests are all decided to page through it reliably.
        """
        if end is not None and end <= start:
            return []
        reset = self.client.get(self.reset_key)
        # Entries of requests that arrived before the reset, saved after it, rank first.
        before = 0
        if reset is not None:
            before = int(self.client.zcount(self.order_key, "-inf", f"({float(reset)!r}"))
        last = -1 if end is None else before + end - 1
        fields = cast(list[bytes], self.client.zrange(self.order_key, before + start, last))
        values = self.client.hmget(self.key, fields) if fields else []
        entries = [json.loads(v) for v in values if v is not None]
        for seq, entry in enumerate(entries, start):
            entry["seq"] = seq  # the order all workers together saw them in
        return entries

    def clear(self) -> None:
        with self.client.pipeline() as pipe:
            pipe.delete(self.key, self.order_key)
            pipe.set(self.reset_key, repr(time.monotonic()))
            pipe.execute()


class SharedDraws:
    """The k-th accepted request of the whole server gets the k-th draw.

    A Redis counter numbers accepted requests across workers; each worker
    keeps its own `random.Random(seed)` and steps it forward to draw k (draws
    are cheap, and k only grows). `/reset?seed=S` stores the seed and zeroes
    the counter; a worker that sees a new generation starts its generator
    over. Unseeded, every worker draws from its own unseeded generator.
    """

    def __init__(self, client: redis.Redis, seed: int | None, prefix: str) -> None:
        self.client = client
        self.counter = f"{prefix}:accepted"
        self.seed_key = f"{prefix}:seed"
        self.generation_key = f"{prefix}:generation"
        self.generation: int | None = None
        self.seed = seed
        self.rng = random.Random(seed)
        self.drawn = 0  # draws taken from self.rng

    def draw(self, draw_one: Callable[[random.Random], float]) -> tuple[int, float]:
        """Number this accepted request (k, from 1, across all workers) and
        return it with draw number k of the seeded sequence."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(self.counter)
            pipe.get(self.seed_key)
            pipe.get(self.generation_key)
            k, seed, generation = pipe.execute()
        k, generation = int(k), int(generation or 0)
        if generation != self.generation:
            self.generation = generation
            if seed is not None:
                self.seed = None if seed == b"none" else int(seed)
            self.rng = random.Random(self.seed)
            self.drawn = 0
        if self.seed is not None:
            # Other workers took draws drawn+1 .. k-1: step over them.
            while self.drawn < k - 1:
                draw_one(self.rng)
                self.drawn += 1
        self.drawn += 1
        return k, draw_one(self.rng)

    def reset(self, seed: int | None) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.counter, 0)
            pipe.set(self.seed_key, "none" if seed is None else str(seed))
            pipe.incr(self.generation_key)
            pipe.execute()

    def current_seed(self, default: int | None) -> int | None:
        """The seed in force: the last /reset's, else `default` (the server's own)."""
        seed = self.client.get(self.seed_key)
        if seed is None:
            return default
        return None if seed == b"none" else int(seed)

    def current_generation(self) -> int:
        """How many resets this server has had (the limiter reads it before a hit)."""
        return int(self.client.get(self.generation_key) or 0)

    def accepted(self) -> int:
        return int(self.client.get(self.counter) or 0)


def clear_server_state(client: redis.Redis, seed: int | None, prefix: str) -> None:
    """Start this server's state afresh: its own keys only (its prefix is new,
    so there are none unless a caller reuses one), then the log's reset
    instant and the draw numbering."""
    forget_server_state(client, prefix)
    SharedLog(client, prefix).clear()
    SharedDraws(client, seed, prefix).reset(seed)


def forget_server_state(client: redis.Redis, prefix: str) -> None:
    """Delete every key of the server whose prefix is `prefix`, and nothing else."""
    stale = list(client.scan_iter(f"{escape_pattern(prefix)}:*", count=1000))
    for start in range(0, len(stale), 1000):
        client.delete(*stale[start : start + 1000])


def escape_pattern(text: str) -> str:
    """`text` matched literally in a Redis glob pattern (SCAN MATCH, KEYS)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
