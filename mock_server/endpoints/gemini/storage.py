"""Where the Gemini quotas keep their state: this process, or Redis for every worker.

`MemoryQuotaStore`: dictionaries; one process's admissions are synchronous,
so its lock is a no-op. `RedisQuotaStore`: counters, bucket levels and
request logs under the server's own prefix, the day clock's start in one
key every worker reads, and a Redis lock making test-and-count one step for
the whole server. Stamps are wall seconds since the clock's start.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import defaultdict, deque
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import redis

from mock_server.redis_store import forget_server_state


class MemoryQuotaStore:
    """The quotas' state in this process (counts are never expired: one key a
    minute per quota is a few thousand small numbers a day)."""

    def __init__(self, now: float) -> None:
        self.started = now
        self.values: dict[str, float] = {}
        self.logs: defaultdict[str, deque[tuple[float, int]]] = defaultdict(deque)

    def __repr__(self) -> str:
        return f"<MemoryQuotaStore {len(self.values)} numbers, {len(self.logs)} logs>"

    def lock(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def start(self, now: float) -> None:
        self.restart(now)

    def origin(self) -> float:
        return self.started

    def restart(self, now: float) -> None:
        self.started = now
        self.values.clear()
        self.logs.clear()

    def numbers(self, keys: Sequence[str]) -> list[float]:
        return [self.values.get(k, 0.0) for k in keys]

    def add(self, key: str, amount: int, ttl: float) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def put(self, key: str, value: float, ttl: float) -> None:
        self.values[key] = value

    def entries(self, key: str, since: float) -> list[tuple[float, int]]:
        return [entry for entry in self.logs[key] if entry[0] >= since]

    def append(self, key: str, stamp: float, cost: int, keep: float) -> None:
        log = self.logs[key]
        while log and log[0][0] < stamp - keep:  # added in time order: the old ones lead
            log.popleft()
        log.append((stamp, cost))


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisQuotaStore:
    """The quotas' state in Redis, shared by every worker of one server.

    Keys start with `PREFIX:gemini:` (the server's own prefix): the server
    deletes them when it stops, and `restart` deletes them all. The clock's
    start is set by the first worker to start serving (`SET NX`: the server
    cleared its keys before the workers started), and by every `POST /reset`.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = f"{prefix}:gemini"
        self.origin_key = f"{prefix}:gemini-origin"
        self.lock_key = f"{prefix}:gemini-admission"

    def start(self, now: float) -> None:
        self.client.set(self.origin_key, repr(now), nx=True)

    def __repr__(self) -> str:
        return f"<RedisQuotaStore {self.prefix}>"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def lock(self) -> AbstractContextManager[Any]:
        return cast(
            AbstractContextManager[Any],
            self.client.lock(self.lock_key, timeout=5, sleep=0.0005, blocking_timeout=10),
        )

    def origin(self) -> float:
        value = self.client.get(self.origin_key)
        return float(cast(bytes, value))

    def restart(self, now: float) -> None:
        with self.lock():
            forget_server_state(self.client, self.prefix)
            self.client.set(self.origin_key, repr(now))

    def numbers(self, keys: Sequence[str]) -> list[float]:
        values = cast(list[bytes | None], self.client.mget([self._key(k) for k in keys]))
        return [float(v) if v is not None else 0.0 for v in values]

    def add(self, key: str, amount: int, ttl: float) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.incrby(self._key(key), amount)
            pipe.pexpire(self._key(key), _ms(ttl))
            pipe.execute()

    def put(self, key: str, value: float, ttl: float) -> None:
        self.client.set(self._key(key), repr(value), px=_ms(ttl))

    def entries(self, key: str, since: float) -> list[tuple[float, int]]:
        found = cast(
            list[tuple[bytes, float]],
            self.client.zrangebyscore(self._key(key), repr(since), "+inf", withscores=True),
        )
        return [(float(score), int(member.split(b":", 1)[0])) for member, score in found]

    def append(self, key: str, stamp: float, cost: int, keep: float) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._key(key), "-inf", f"({stamp - keep!r}")
            pipe.zadd(self._key(key), {f"{cost}:{os.urandom(6).hex()}": stamp})
            pipe.pexpire(self._key(key), _ms(keep))
            pipe.execute()
