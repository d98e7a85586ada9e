"""One limit shared by many client processes: a sliding log in Redis.

A token bucket in each process is the cautionary case: P processes, each
with its own bucket of 2/s, send P x 2/s between them. Here the log of send
times lives in Redis, and one Lua script checks it and appends to it
atomically (Redis runs a script alone), so P processes on any number of
machines draw on one limit.

The rule is the server's: at most `limit` sends in any `window` seconds,
plus a margin. It takes the clock from Redis itself (`TIME`), so the
processes need no common clock of their own. The margin absorbs how much
later than its send the server decides a request (a process not yet
scheduled, the trip to the server): with a fixed window that opens at its
first hit, a send that reaches the server a little early would land in the
old window and be refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio

from clients.infra.steps import Await, Steps
from clients.limiters.base import Limiter

DEFAULT_KEY = "ratebench:clients:limit"

# KEYS[1]: a sorted set of send times (microseconds on Redis's clock).
# ARGV: limit, window (microseconds), a member name unique to this send.
# Returns 0 if the send may go now (and logs it), else microseconds to wait.
SLIDING_LOG = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
if redis.call('zcard', KEYS[1]) < limit then
    redis.call('zadd', KEYS[1], now, ARGV[3])
    redis.call('pexpire', KEYS[1], math.ceil(window / 1000) + 1000)
    return 0
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

# KEYS[1]: the log; ARGV[1]: a logged send. Moves it to now on Redis's clock, if
# it is still logged: its request has just reached the wire.
RESTAMP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('zscore', KEYS[1], ARGV[1]) then
    redis.call('zadd', KEYS[1], 'XX', now, ARGV[1])
end
return 0
"""

Sleep = Callable[[float], Awaitable[None]]


class RedisSlidingLog(Limiter):
    """At most `limit` sends in any `window + margin` wall seconds, across
    every process that uses the same Redis `key`.

    `acquire()` waits until a send may go and returns the seconds waited;
    `release()` does nothing. Each acquire is one round trip to Redis, plus
    one per wake-up while the limit is used up. redis.asyncio and the
    `asyncio.Lock` below are asyncio-only: the wait is one `Await` step,
    which only the asyncio driver carries out.
    """

    def __init__(
        self,
        url: str,
        limit: int,
        window: float,
        margin: float,
        key: str = DEFAULT_KEY,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 send, got {limit}")
        if not window > 0 or margin < 0:
            raise ValueError(f"window must be > 0 and margin >= 0 seconds, got {window}, {margin}")
        self.url = url
        self.limit = limit
        self.window = window
        self.margin = margin
        self.key = key
        self.clock = clock
        self.sleep = sleep
        self.sends = 0
        # Built lazily, inside the loop that uses it.
        self._client: redis.asyncio.Redis | None = None
        self._script: redis.commands.core.AsyncScript | None = None
        self._restamp: redis.commands.core.AsyncScript | None = None
        self._granted: str | None = None  # the member of the send just let go
        self._restamps: set[asyncio.Task[object]] = set()
        # The tasks of this process queue here, and only the head asks Redis:
        # at a window's edge P processes race for the places, not P x tasks,
        # which would load the machine just when sends must go out on time.
        self._turn = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"<RedisSlidingLog {self.limit} per {self.window:g}+{self.margin:g} s "
            f"key={self.key!r} sends={self.sends}>"
        )

    def acquire(self) -> Steps[float]:
        waited: float = yield Await(self._acquire)
        return waited

    async def _acquire(self) -> float:
        if self._script is None:
            self._client = redis.asyncio.Redis.from_url(self.url)
            self._script = self._client.register_script(SLIDING_LOG)
            self._restamp = self._client.register_script(RESTAMP)
        start = self.clock()
        window_us = round((self.window + self.margin) * 1e6)
        async with self._turn:
            while True:
                member = uuid.uuid4().hex
                wait_us = int(await self._script([self.key], [self.limit, window_us, member]))
                if wait_us == 0:
                    self.sends += 1
                    self._granted = member
                    return self.clock() - start
                await self.sleep(wait_us / 1e6)

    def on_wire(self) -> Callable[[], None] | None:
        """The send just let go moves, in Redis, to when its request reaches the wire.

        Logged at the grant, a request that reaches the server late (its process
        not scheduled, a connection to open) opens the server's window later
        than the log says, and the next window's first sends, granted a window
        plus the margin after the grant, can land in it (the likely cause of
        2 × 429 in 16 sends with the 15 ms margin, once, in a test run on a
        loaded 2-core machine). The move is one
        more script, sent without waiting (the send must not wait for it); the
        stamp only ever moves later, so the rule holds meanwhile.
        """
        member, script = self._granted, self._restamp
        if member is None or script is None:
            return None

        def restamp() -> None:
            task = asyncio.ensure_future(script([self.key], [member]))
            self._restamps.add(task)
            task.add_done_callback(self._restamps.discard)

        return restamp

    async def close(self) -> None:
        if self._restamps:
            await asyncio.gather(*self._restamps, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._script = None
            self._restamp = None


async def clear(url: str, key: str = DEFAULT_KEY) -> None:
    """Forget every logged send under `key` (before a fresh run)."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.delete(key)
    finally:
        await client.aclose()


def check_redis(url: str) -> None:
    """ConfigError, with a hint, unless a Redis answers at `url`."""
    import redis as sync_redis

    from clients.config import ConfigError
    from mock_server.redact import redact

    try:
        client = sync_redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (sync_redis.RedisError, ValueError) as exc:
        raise ConfigError(
            f"no Redis answers at {redact(url)} ({redact(str(exc))}): start one with "
            "`redis-server --port PORT "
            "--save ''` and pass its URL with --redis"
        ) from None
