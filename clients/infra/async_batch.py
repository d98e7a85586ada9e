"""The asyncio runner: every request of the batch as one task, gathered.

This is the write-up's `main()`: one `aiohttp.ClientSession`, `asyncio.gather`
over all requests. The limiter is the plug-in that makes it the naive client
(no limit) or the token-bucket client.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import AsyncSend, call_with_retries
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.retry import RetryPolicy
from clients.limiters.base import AsyncLimiter
from clients.transports import aiohttp_send as http_aiohttp

# Built inside the run, after its clock has started: a token bucket counts
# its first token from its creation, as the write-up's did.
AsyncLimiterFactory = Callable[[ClientConfig], AsyncLimiter]
# One request with its retries; returns True if it succeeded.
Job = Callable[[], Awaitable[bool]]
# Runs every job to the end (or until cancelled, cancelling them all).
RunAll = Callable[[Sequence[Job]], Awaitable[object]]


async def gather_all(jobs: Sequence[Job]) -> object:
    """The write-up's way: every job as a task at once, `asyncio.gather`ed."""
    return await asyncio.gather(*(job() for job in jobs))


def _as_is(send: AsyncSend) -> AsyncSend:
    return send


def run_async_batch(
    client: str,
    config: ClientConfig,
    make_limiter: AsyncLimiterFactory,
    on_line: OnLine | None = None,
    *,
    run_all: RunAll = gather_all,
    wrap_send: Callable[[AsyncSend], AsyncSend] = _as_is,
) -> ClientRun:
    """Run the batch in a fresh event loop; blocks until done or the deadline passes.

    `run_all` decides when each request's job starts (all at once by
    default; aiometer's `run_all` spaces them out). `wrap_send` may wrap
    every HTTP attempt, to read its reply before the retry loop does.
    """
    return asyncio.run(_run(client, config, make_limiter, on_line, run_all, wrap_send))


async def _run(
    client: str,
    config: ClientConfig,
    make_limiter: AsyncLimiterFactory,
    on_line: OnLine | None,
    run_all: RunAll,
    wrap_send: Callable[[AsyncSend], AsyncSend],
) -> ClientRun:
    recorder = Recorder(client, config.n, on_line)
    recorder.line(loglines.start(recorder.now()))
    limiter = make_limiter(config)
    policy = RetryPolicy.from_config(config)
    timeout = aiohttp.ClientTimeout(total=config.scaled(config.request_timeout))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        send = wrap_send(functools.partial(http_aiohttp.send, session, config.url))
        jobs = [
            functools.partial(
                call_with_retries,
                i,
                send,
                limiter=limiter,
                policy=policy,
                recorder=recorder,
                time_scale=config.time_scale,
            )
            for i in range(config.n)
        ]
        try:
            async with asyncio.timeout(config.scaled(config.deadline) - recorder.now()):
                await run_all(jobs)
        except TimeoutError:
            # run_all has cancelled every job and waited for them: attempts
            # that were on the wire are recorded as timeouts by now.
            run = recorder.result()
            recorder.line(loglines.deadline(recorder.now(), run.failed))
    recorder.line(loglines.finish(recorder.now()))
    return recorder.result()
