"""A batch that a library sends itself, every HTTP attempt recorded by aiohttp's tracing.

For the leaderboard's libraries that pace, send and retry each request
themselves through an `aiohttp.ClientSession` they are handed
(smartratelimit's `arequest_aiohttp`): the client's code is one call per
request, and the library's retries happen inside it. The session's
`TraceConfig` sees each attempt go out and come back and records it, as the
SDK clients' recording transport does (`clients.infra.sdk_batch`); the
request's index rides in aiohttp's `trace_request_ctx`, which the library
passes through with the call's other keyword arguments.

`queued` is 0 for a first try (the batch is gathered at once) and the send
itself for a retry: the library's sleep before it is not visible from here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import classify
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun, Outcome
from clients.infra.run_loop import run_loop

if TYPE_CHECKING:
    import aiohttp

    from clients.infra.llm_batch import ChatRequest

#: One request, sent by the library: (session, its index's trace context, the
#: request or None on /chat) → the last answer's HTTP status.
Call = Callable[["aiohttp.ClientSession", dict[str, Any], "ChatRequest | None"], Awaitable[int]]


def tracing(recorder: Recorder) -> aiohttp.TraceConfig:
    """A TraceConfig that records every attempt of the request named in its
    `trace_request_ctx` (`{"request": index}`)."""
    import aiohttp

    tries: Counter[int] = Counter()
    trace = aiohttp.TraceConfig()

    def index_of(context: SimpleNamespace) -> int:
        given = context.trace_request_ctx or {}
        return int(given.get("request", -1))

    async def start(session: object, context: SimpleNamespace, params: object) -> None:
        index = index_of(context)
        context.attempt = tries[index]
        tries[index] += 1
        context.sent = recorder.now()
        recorder.sending(index, context.attempt, context.sent)

    def finish(context: SimpleNamespace, status: int | None, outcome: Outcome) -> None:
        index = index_of(context)
        if index < 0 or not hasattr(context, "sent"):
            return
        recorder.record(
            index,
            context.attempt,
            queued=0.0 if context.attempt == 0 else context.sent,
            sent=context.sent,
            finished=recorder.now(),
            status=status,
            outcome=outcome,
        )

    async def end(session: object, context: SimpleNamespace, params: Any) -> None:
        status = int(params.response.status)
        finish(context, status, classify(status))

    async def failed(session: object, context: SimpleNamespace, params: Any) -> None:
        timeout = isinstance(params.exception, asyncio.TimeoutError | asyncio.CancelledError)
        finish(context, None, "timeout" if timeout else "error")

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(failed)
    return trace


def run_traced_batch(
    client: str,
    config: ClientConfig,
    make_call: Callable[[ClientConfig], Call],
    requests: list[ChatRequest] | None,
    on_line: OnLine | None = None,
) -> ClientRun:
    """Every request as a task at once, each one library call; blocks until done
    or the deadline passed. `requests`: the OpenAI request set, None for /chat."""
    return run_loop(_run(client, config, make_call, requests, on_line))


async def _run(
    client: str,
    config: ClientConfig,
    make_call: Callable[[ClientConfig], Call],
    requests: list[ChatRequest] | None,
    on_line: OnLine | None,
) -> ClientRun:
    import aiohttp

    from clients.infra.llm_batch import KEEPALIVE

    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    recorder.line(loglines.start(recorder.scenario_now()))
    call = make_call(config)
    timeout = aiohttp.ClientTimeout(total=config.scaled(config.request_timeout))
    connector = aiohttp.TCPConnector(limit=config.pool, keepalive_timeout=KEEPALIVE)
    async with aiohttp.ClientSession(
        timeout=timeout,
        connector=connector,
        headers=config.auth_headers,
        trace_configs=[tracing(recorder)],
    ) as session:

        async def one(index: int) -> bool:
            request = None if requests is None else requests[index]
            try:
                status = await call(session, {"request": index}, request)
            except Exception:  # the library's last error: the request is lost
                status = 0
            if status == 200:
                recorder.succeeded(index, recorder.now(), "ok")
                return True
            recorder.gave_up(index, recorder.now())
            return False

        try:
            async with asyncio.timeout(config.scaled(config.deadline) - recorder.now()):
                await asyncio.gather(*(one(i) for i in range(config.n)))
        except TimeoutError:
            recorder.line(loglines.deadline(recorder.scenario_now(), recorder.result().failed))
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()
