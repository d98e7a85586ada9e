"""The limiting policy as a plug-in, separate from the concurrency model.

A limiter has two hooks, called around every HTTP attempt (retries
included): `acquire()` before it is sent, returning the seconds spent
waiting, and `release()` once it has finished, whatever the outcome. A token
bucket only needs the first; a semaphore ("at most N at once") needs both.
The retry loops in `clients.infra.attempts` call them and never ask which limiter
they hold, so a new client is a new pairing of limiter and runner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from clients.limiters.bucket import TokenBucket
from clients.limiters.thread_bucket import ThreadTokenBucket

if TYPE_CHECKING:
    import aiolimiter


class AsyncLimiter(Protocol):
    """Limiter for asyncio clients."""

    async def acquire(self) -> float:
        """Wait (without blocking the loop) until an attempt may go; seconds waited."""
        ...

    def release(self) -> None:
        """The attempt that acquired has finished."""
        ...


class SyncLimiter(Protocol):
    """Limiter for thread clients; `acquire` blocks the calling thread."""

    def acquire(self) -> float:
        """Block until an attempt may go; seconds waited."""
        ...

    def release(self) -> None:
        """The attempt that acquired has finished."""
        ...


class NoLimit:
    """Every attempt goes at once (the naive gather)."""

    async def acquire(self) -> float:
        return 0.0

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return "<NoLimit>"


class NoLimitSync:
    """Every attempt goes as soon as its thread is free (the thread pool)."""

    def acquire(self) -> float:
        return 0.0

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return "<NoLimitSync>"


class BucketLimiter:
    """One token per attempt from a `TokenBucket`; nothing to give back."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    async def acquire(self) -> float:
        return await self.bucket.acquire()

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<BucketLimiter {self.bucket!r}>"


class ThreadBucketLimiter:
    """One token per attempt from a `ThreadTokenBucket`; blocks the calling thread."""

    def __init__(self, bucket: ThreadTokenBucket) -> None:
        self.bucket = bucket

    def acquire(self) -> float:
        return self.bucket.acquire()

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<ThreadBucketLimiter {self.bucket!r}>"


class SemaphoreLimiter:
    """At most `slots` attempts in flight (asyncio), like a pool of `slots` threads.

    Held for one attempt only: a request sleeping before its retry holds no
    slot, where a pool thread would stay blocked in its sleep.
    """

    def __init__(self, slots: int, clock: Callable[[], float] = time.monotonic) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self.clock = clock
        self.semaphore = asyncio.Semaphore(slots)

    async def acquire(self) -> float:
        start = self.clock()
        await self.semaphore.acquire()
        return self.clock() - start

    def release(self) -> None:
        self.semaphore.release()

    def __repr__(self) -> str:
        return f"<SemaphoreLimiter slots={self.slots} locked={self.semaphore.locked()}>"


class LeakyBucketLimiter:
    """aiolimiter's `AsyncLimiter` (a leaky bucket) acquired before every attempt.

    Unlike the write-up's bucket it starts with room for `max_rate`
    acquisitions, so the first `max_rate` attempts go at once.
    """

    def __init__(
        self, limiter: aiolimiter.AsyncLimiter, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limiter = limiter
        self.clock = clock

    async def acquire(self) -> float:
        start = self.clock()
        await self.limiter.acquire()
        return self.clock() - start

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<LeakyBucketLimiter {self.limiter!r}>"
