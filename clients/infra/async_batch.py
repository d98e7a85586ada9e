"""The asyncio driver: every request of the batch as one task, gathered.

This is the write-up's `main()`: one `aiohttp.ClientSession`, `asyncio.gather`
over all requests. Each task carries out the steps of one request loop
(`clients.infra.loop`) with `drive`; the limiter is the plug-in that makes
it the naive client (no limit), the token-bucket client, and so on.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import Reply, crashed
from clients.infra.loop import request_loop
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.retry import RetryPolicy
from clients.infra.run_loop import run_loop
from clients.infra.steps import Await, Park, Send, Sleep, Step, Steps, unsupported
from clients.limiters.base import Limiter
from clients.transports import aiohttp_send as http_aiohttp

T = TypeVar("T")

# Called with no argument, or with `on_wire=` when the limiter asked for the wire time.
AsyncSend = Callable[..., Awaitable[Reply]]
AsyncSleep = Callable[[float], Awaitable[None]]
# Built inside the run, after its clock has started: a token bucket counts
# its first token from its creation, as the write-up's did.
LimiterFactory = Callable[[ClientConfig], Limiter]
# One request with its retries; returns True if it succeeded.
Job = Callable[[], Awaitable[bool]]
# Runs every job to the end (or until cancelled, cancelling them all).
RunAll = Callable[[Sequence[Job]], Awaitable[object]]


async def drive(
    steps: Steps[T], send: AsyncSend | None = None, *, sleep: AsyncSleep = asyncio.sleep
) -> T:
    """Carry out `steps` in the calling task until the generator returns; return its value.

    `Sleep` is `sleep` (wall seconds), `Send` is `send()` (a `send` that
    raises comes back as an `error` reply), `Park` waits on a future that
    the waker resolves, `Await` awaits. If the task is cancelled, or a step
    fails, the generator is closed first, so it can record an attempt on
    the wire and give back what it holds; then the error propagates.
    """
    value: Any = None
    while True:
        try:
            step = steps.send(value)
        except StopIteration as done:
            result: T = done.value
            return result
        try:
            # A send is most steps, carried out here rather than in `_carry_out`:
            # one coroutine less in the chain that every wake-up of the
            # attempt passes through, and for the collector to walk.
            if type(step) is Send and send is not None:
                try:
                    # Only the aiohttp transport can tell when a request reached the wire.
                    value = await (send() if step.on_wire is None else send(on_wire=step.on_wire))
                except Exception as exc:  # a bug in `send` must not lose the record
                    value = crashed(exc)
            else:
                value = await _carry_out(step, send, sleep)
        except BaseException:
            steps.close()
            raise


async def _carry_out(step: Step, send: AsyncSend | None, sleep: AsyncSleep) -> Any:
    if isinstance(step, Sleep):
        await sleep(step.seconds)
        return None
    if isinstance(step, Send):
        raise unsupported(step, "asyncio (no send given)")
    if isinstance(step, Park):
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        # Registered before this task yields to the loop: the generator's
        # decision to park and its place in the queue are one step.
        step.queue.park(step, wake)
        await woken
        return None
    if isinstance(step, Await):
        return await step.make()
    raise unsupported(step, "asyncio")


async def gather_all(jobs: Sequence[Job]) -> object:
    """The write-up's way: every job as a task at once, `asyncio.gather`ed."""
    return await asyncio.gather(*(job() for job in jobs))


def run_async_batch(
    client: str,
    config: ClientConfig,
    make_limiter: LimiterFactory,
    on_line: OnLine | None = None,
    *,
    run_all: RunAll = gather_all,
) -> ClientRun:
    """Run the batch in a fresh event loop; blocks until done or the deadline passes.

    `run_all` decides when each request's job starts (all at once by
    default; aiometer's `run_all` spaces them out).
    """
    return run_loop(_run(client, config, make_limiter, on_line, run_all))


async def _run(
    client: str,
    config: ClientConfig,
    make_limiter: LimiterFactory,
    on_line: OnLine | None,
    run_all: RunAll,
) -> ClientRun:
    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    recorder.line(loglines.start(recorder.scenario_now()))
    limiter = make_limiter(config)
    policy = RetryPolicy.from_config(config)
    # The pool is explicit (config.pool, 0 for no limit): aiohttp's default
    # of 100 connections would cap requests in flight behind every policy's back.
    async with http_aiohttp.open_session(config) as session:
        send = functools.partial(http_aiohttp.send, session, config.url, recorder.now)

        # Each job drives its request's loop itself (no coroutine of ours
        # around it to walk through); a loop runs nothing until driven.
        jobs = [
            functools.partial(
                drive,
                request_loop(i, limiter, policy, recorder, time_scale=config.time_scale),
                send,
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
            recorder.line(loglines.deadline(recorder.scenario_now(), run.failed))
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()
