"""The shared retry loops, on fake time and scripted replies."""

from __future__ import annotations

import asyncio
import threading

import pytest

from clients.infra.attempts import (
    AsyncSend,
    Reply,
    call_with_retries,
    call_with_retries_sync,
    classify,
)
from clients.infra.recorder import Recorder
from clients.infra.retry import RetryPolicy
from clients.limiters.base import BucketLimiter, NoLimit, NoLimitSync
from clients.limiters.bucket import TokenBucket
from tests.test_token_bucket import FakeTime

OK = Reply(200, "ok", "hello world")
LIMITED = Reply(429, "rate_limited")


def scripted(fake: FakeTime, replies: list[Reply], latency: float = 0.25) -> AsyncSend:
    """A `send` that takes `latency` fake seconds and answers from the script."""
    script = iter(replies)

    async def send() -> Reply:
        await fake.sleep(latency)
        return next(script)

    return send


def test_classify() -> None:
    assert [classify(s) for s in (200, 429, 500, 201, 404)] == [
        "ok",
        "rate_limited",
        "error",
        "error",
        "error",
    ]


def test_retries_until_ok_and_records_every_attempt() -> None:
    lines: list[str] = []

    async def main() -> bool:
        fake = FakeTime()
        recorder = Recorder("t", 1, lines.append, clock=fake.clock)
        send = scripted(fake, [LIMITED, LIMITED, OK])
        [ok] = await fake.run(
            call_with_retries(
                4,
                send,
                limiter=NoLimit(),
                policy=RetryPolicy(),
                recorder=recorder,
                time_scale=1.0,
                sleep=fake.sleep,
            )
        )
        attempts = recorder.result().attempts
        assert [
            (a.attempt, a.queued, a.sent, a.finished, a.status, a.outcome) for a in attempts
        ] == [
            (0, 0.0, 0.0, 0.25, 429, "rate_limited"),
            (1, 3.25, 3.25, 3.5, 429, "rate_limited"),
            (2, 9.5, 9.5, 9.75, 200, "ok"),
        ]
        return bool(ok)

    assert asyncio.run(main()) is True
    assert lines == [
        "[Request 4] Sending 0.00",
        "[Request 4] FAIL 0.25: retry in 3 seconds",
        "[Request 4] Sending 3.25",
        "[Request 4] FAIL 3.50: retry in 6 seconds",
        "[Request 4] Sending 9.50",
        "[Request 4] SUCCESS 9.75: receive hello world",
    ]


def test_retry_sleeps_follow_the_time_scale() -> None:
    async def main() -> list[float]:
        fake = FakeTime()
        recorder = Recorder("t", 1, clock=fake.clock)
        send = scripted(fake, [LIMITED, OK], latency=0.0)
        await fake.run(
            call_with_retries(
                0,
                send,
                limiter=NoLimit(),
                policy=RetryPolicy(),
                recorder=recorder,
                time_scale=0.1,
                sleep=fake.sleep,
            )
        )
        return [a.sent for a in recorder.result().attempts]

    assert asyncio.run(main()) == pytest.approx([0.0, 0.3])


def test_out_of_attempts_is_a_failure_not_an_exception() -> None:
    lines: list[str] = []

    async def main() -> bool:
        fake = FakeTime()
        recorder = Recorder("t", 1, lines.append, clock=fake.clock)
        send = scripted(fake, [LIMITED] * 5)
        [ok] = await fake.run(
            call_with_retries(
                0,
                send,
                limiter=NoLimit(),
                policy=RetryPolicy("writeup"),
                recorder=recorder,
                time_scale=1.0,
                sleep=fake.sleep,
            )
        )
        assert len(recorder.result().attempts) == 5
        assert recorder.result().failed == 1
        return ok

    assert asyncio.run(main()) is False
    fails = [line.split(": ", 1)[1] for line in lines if "FAIL" in line]
    assert fails == [
        "retry in 3 seconds",
        "retry in 9 seconds",
        "retry in 81 seconds",
        "retry in 6561 seconds",
        "hit max retry limit",
    ]


def test_policy_none_sends_once() -> None:
    async def main() -> int:
        fake = FakeTime()
        recorder = Recorder("t", 1, clock=fake.clock)
        await fake.run(
            call_with_retries(
                0,
                scripted(fake, [LIMITED]),
                limiter=NoLimit(),
                policy=RetryPolicy("none"),
                recorder=recorder,
                time_scale=1.0,
                sleep=fake.sleep,
            )
        )
        return len(recorder.result().attempts)

    assert asyncio.run(main()) == 1


def test_limiter_wait_is_recorded_and_every_attempt_pays_a_token() -> None:
    async def main() -> None:
        fake = FakeTime()
        recorder = Recorder("t", 1, clock=fake.clock)
        bucket = TokenBucket(2.0, 2, clock=fake.clock, sleep=fake.sleep)
        send = scripted(fake, [LIMITED, OK], latency=0.0)
        policy = RetryPolicy(first_sleep=0.0)
        await fake.run(
            call_with_retries(
                0,
                send,
                limiter=BucketLimiter(bucket),
                policy=policy,
                recorder=recorder,
                time_scale=1.0,
                sleep=fake.sleep,
            )
        )
        first, retry = recorder.result().attempts
        assert (first.queued, first.sent, first.limiter_wait) == (0.0, 0.5, 0.5)
        # The retry became ready at 0.5 and waited for the next token, at 1.0.
        assert (retry.queued, retry.sent, retry.limiter_wait) == (0.5, 1.0, 0.5)

    asyncio.run(main())


def test_cancelled_on_the_wire_is_recorded_as_timeout() -> None:
    async def main() -> None:
        fake = FakeTime()
        recorder = Recorder("t", 1, clock=fake.clock)
        task = asyncio.ensure_future(
            call_with_retries(
                0,
                scripted(fake, [OK], latency=10.0),
                limiter=NoLimit(),
                policy=RetryPolicy(),
                recorder=recorder,
                time_scale=1.0,
                sleep=fake.sleep,
            )
        )
        await fake._settle()
        fake.now = 2.0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [attempt] = recorder.result().attempts
        assert (attempt.sent, attempt.finished, attempt.status, attempt.outcome) == (
            0.0,
            2.0,
            None,
            "timeout",
        )

    asyncio.run(main())


def test_a_send_that_raises_is_recorded_as_error() -> None:
    async def broken() -> Reply:
        raise RuntimeError("bug")

    async def main() -> None:
        recorder = Recorder("t", 1)
        ok = await call_with_retries(
            0,
            broken,
            limiter=NoLimit(),
            policy=RetryPolicy("none"),
            recorder=recorder,
            time_scale=1.0,
        )
        assert ok is False
        assert [a.outcome for a in recorder.result().attempts] == ["error"]

    asyncio.run(main())


class StepClock:
    """A clock for the thread loop: each `send` moves it forward."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sync_loop_retries_and_records() -> None:
    clock = StepClock()
    lines: list[str] = []
    recorder = Recorder("t", 1, lines.append, clock=clock)
    replies = iter([Reply(500, "error"), Reply(None, "timeout"), OK])
    timeouts: list[float] = []

    def send(timeout: float) -> Reply:
        timeouts.append(timeout)
        clock.now += 1.0
        return next(replies)

    ok = call_with_retries_sync(
        2,
        send,
        limiter=NoLimitSync(),
        policy=RetryPolicy(first_sleep=0.0),
        recorder=recorder,
        time_scale=1.0,
        deadline=100.0,
        request_timeout=60.0,
    )
    assert ok is True
    assert [(a.attempt, a.sent, a.finished, a.outcome) for a in recorder.result().attempts] == [
        (0, 0.0, 1.0, "error"),
        (1, 1.0, 2.0, "timeout"),
        (2, 2.0, 3.0, "ok"),
    ]
    assert timeouts == [60.0, 60.0, 60.0]
    assert lines[-1] == "[Request 2] SUCCESS 3.00: receive hello world"


def test_sync_loop_stops_at_the_deadline() -> None:
    clock = StepClock()
    recorder = Recorder("t", 1, clock=clock)
    timeouts: list[float] = []

    def send(timeout: float) -> Reply:
        timeouts.append(timeout)
        clock.now += 7.0
        return LIMITED

    ok = call_with_retries_sync(
        0,
        send,
        limiter=NoLimitSync(),
        policy=RetryPolicy(first_sleep=0.0),
        recorder=recorder,
        time_scale=1.0,
        deadline=10.0,
        request_timeout=60.0,
    )
    assert ok is False
    # Attempt 1 starts at 7 s with 3 s to go: its timeout is cut to end by the deadline.
    assert timeouts == [10.0, 3.0]
    assert len(recorder.result().attempts) == 2


def test_sync_loop_starts_nothing_once_stopped() -> None:
    stop = threading.Event()
    recorder = Recorder("t", 1)

    def send(timeout: float) -> Reply:
        stop.set()  # as if Ctrl-C arrived while this attempt was on the wire
        return LIMITED

    ok = call_with_retries_sync(
        0,
        send,
        limiter=NoLimitSync(),
        policy=RetryPolicy(),
        recorder=recorder,
        time_scale=1.0,
        deadline=100.0,
        request_timeout=1.0,
        stop=stop,
    )
    assert ok is False
    assert len(recorder.result().attempts) == 1  # and no 3 s retry sleep either
