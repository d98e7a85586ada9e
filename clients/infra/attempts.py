"""One request's life: attempts, limiter waits and retry sleeps, recorded.

`call_with_retries` (asyncio) and `call_with_retries_sync` (threads) are the
same loop in the two concurrency models; what differs between clients is the
`send` function (aiohttp or requests) and the limiter. Each attempt:

1. becomes ready (`queued`): at the run's start for the first try, at the
   end of the retry sleep for later ones;
2. waits in the limiter (`limiter_wait`), then goes on the wire (`sent`);
3. comes back (`finished`) as a `Reply`, and is recorded whatever happened.

The write-up acquired its token inside the `try`, before every attempt, so
retries pay for a token too; so do we. Its "Sending" line was printed before
the limiter wait; ours is printed when the attempt is really sent.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from clients.infra import loglines
from clients.infra.recorder import Recorder
from clients.infra.records import Outcome
from clients.infra.retry import RetryPolicy
from clients.limiters.base import AsyncLimiter, SyncLimiter


@dataclass(frozen=True, slots=True)
class Reply:
    """What one HTTP attempt came back with.

    `body` is the decoded JSON for an `ok` reply; `detail` says what went
    wrong otherwise (for debugging; the log lines follow the write-up and
    do not show it). `reopens_in` is, for a 429, the wall seconds the server
    said its window stays closed (see `reopens_in`), None if it did not say.
    """

    status: int | None
    outcome: Outcome
    body: object = None
    detail: str = ""
    reopens_in: float | None = None


def classify(status: int) -> Outcome:
    """200 is success, 429 the server's rate limit, anything else an error."""
    if status == 200:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "error"


def reopens_in(headers: Mapping[str, str]) -> float | None:
    """Wall seconds until a 429's window reopens, from the response headers.

    `X-RateLimit-Reset-After` (the mock server's, exact, fractional seconds)
    first; else `Retry-After` (RFC 9110: whole seconds; slowapi writes
    int(reset - now) + 1, so up to a second late); None if neither is a
    number >= 0. HTTP-date `Retry-After` values are not read.
    """
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


AsyncSend = Callable[[], Awaitable[Reply]]
SyncSend = Callable[[float], Reply]  # takes its timeout in wall seconds
AsyncSleep = Callable[[float], Awaitable[None]]


def _after_reply(
    recorder: Recorder,
    policy: RetryPolicy,
    request: int,
    attempt: int,
    reply: Reply,
    finished: float,
) -> None:
    """Log the attempt's end the way the write-up did."""
    if reply.outcome == "ok":
        recorder.line(loglines.success(request, finished, reply.body))
    elif attempt + 1 < policy.max_attempts:
        recorder.line(loglines.fail_retry(request, finished, policy.sleep_before(attempt + 1)))
    else:
        recorder.line(loglines.fail_final(request, finished))


async def call_with_retries(
    request: int,
    send: AsyncSend,
    *,
    limiter: AsyncLimiter,
    policy: RetryPolicy,
    recorder: Recorder,
    time_scale: float,
    sleep: AsyncSleep = asyncio.sleep,
) -> bool:
    """Send request `request` until it succeeds or runs out of attempts.

    Returns True if an attempt came back `ok`. Never raises for an HTTP or
    network failure (those are recorded); if the task is cancelled (the
    run's deadline), an attempt on the wire is recorded as `timeout` and
    the cancellation propagates.
    """
    queued = 0.0
    for attempt in range(policy.max_attempts):
        if attempt > 0:
            await sleep(policy.sleep_before(attempt) * time_scale)
            queued = recorder.now()
        waited = await limiter.acquire()
        sent = recorder.now()
        recorder.line(loglines.sending(request, sent))
        try:
            reply = await send()
        except asyncio.CancelledError:
            recorder.record(
                request,
                attempt,
                queued=queued,
                sent=sent,
                finished=recorder.now(),
                status=None,
                outcome="timeout",
                limiter_wait=waited,
            )
            raise
        except Exception as exc:  # a bug in `send` must not lose the record
            reply = Reply(None, "error", detail=repr(exc))
        finally:
            limiter.release()
        finished = recorder.now()
        recorder.record(
            request,
            attempt,
            queued=queued,
            sent=sent,
            finished=finished,
            status=reply.status,
            outcome=reply.outcome,
            limiter_wait=waited,
        )
        _after_reply(recorder, policy, request, attempt, reply, finished)
        if reply.outcome == "ok":
            return True
    return False


def call_with_retries_sync(
    request: int,
    send: SyncSend,
    *,
    limiter: SyncLimiter,
    policy: RetryPolicy,
    recorder: Recorder,
    time_scale: float,
    deadline: float,
    request_timeout: float,
    stop: threading.Event | None = None,
) -> bool:
    """The thread twin of `call_with_retries`; blocks the calling thread.

    A blocked thread cannot be cancelled, so the deadline (`deadline`, wall
    seconds from the run's start) is enforced from inside: no attempt starts
    after it, retry sleeps are cut short at it, and each attempt's timeout
    (`request_timeout`, wall seconds) is shortened so it ends by then.
    Setting `stop` (Ctrl-C in the caller) ends retry sleeps at once and
    starts no further attempt. Returns True if an attempt came back `ok`.
    """
    stop = stop or threading.Event()
    queued = 0.0
    for attempt in range(policy.max_attempts):
        if attempt > 0:
            delay = policy.sleep_before(attempt) * time_scale
            stop.wait(max(0.0, min(delay, deadline - recorder.now())))
            queued = recorder.now()
        if stop.is_set() or recorder.now() >= deadline:
            return False
        waited = limiter.acquire()
        sent = recorder.now()
        if sent >= deadline:  # the limiter held us past the deadline
            limiter.release()
            return False
        recorder.line(loglines.sending(request, sent))
        try:
            reply = send(max(0.001, min(request_timeout, deadline - sent)))
        except Exception as exc:  # a bug in `send` must not lose the record
            reply = Reply(None, "error", detail=repr(exc))
        finally:
            limiter.release()
        finished = recorder.now()
        recorder.record(
            request,
            attempt,
            queued=queued,
            sent=sent,
            finished=finished,
            status=reply.status,
            outcome=reply.outcome,
            limiter_wait=waited,
        )
        _after_reply(recorder, policy, request, attempt, reply, finished)
        if reply.outcome == "ok":
            return True
    return False
