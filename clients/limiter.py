"""The limiting policy as a plug-in, separate from the concurrency model.

A limiter has two hooks, called around every HTTP attempt (retries
included): `acquire()` before it is sent, returning the seconds spent
waiting, and `release()` once it has finished, whatever the outcome. A token
bucket only needs the first; a semaphore ("at most N at once") needs both.
The retry loops in `clients.attempts` call them and never ask which limiter
they hold, so a new client is a new pairing of limiter and runner.
"""

from __future__ import annotations

from typing import Protocol

from clients.token_bucket import TokenBucket


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
