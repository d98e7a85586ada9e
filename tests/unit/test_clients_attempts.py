"""The one request loop under each of its three drivers, on fake time and scripted replies."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from bench.theory.simulate import REJECTED, Simulation
from clients.infra.async_batch import drive
from clients.infra.attempts import Reply, classify
from clients.infra.loop import processes, request_loop
from clients.infra.recorder import Recorder
from clients.infra.records import Attempt
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Await, Park, Sleep, Step, Steps, Waiters
from clients.infra.thread_batch import ThreadDriver
from clients.limiters.base import Clock, Limiter, NoLimit, Semaphore
from clients.limiters.bucket import TokenBucket
from clients.limiters.reopen_gate import ReopenGate
from tests.drivers import FakeThreadTime, FakeTime, simulation

OK = Reply(200, "ok", "hello world")
LIMITED = Reply(429, "rate_limited")

DriverName = Literal["asyncio", "threads", "simulator"]
DRIVERS: tuple[DriverName, ...] = ("asyncio", "threads", "simulator")


@dataclass
class Outcome:
    ok: bool | None
    attempts: tuple[Attempt, ...]
    lines: list[str]


class ScriptedServer:
    """A server model for the simulator that answers from a script: True accepts."""

    def __init__(self, accepts: Iterator[bool]) -> None:
        self.accepts = accepts

    def hit(self, at: float) -> bool:
        return next(self.accepts)

    def refused(self, at: float) -> Reply:
        return REJECTED


def run_one(
    driver: DriverName,
    replies: list[Reply],
    *,
    latency: float = 0.25,
    policy: RetryPolicy | None = None,
    time_scale: float = 1.0,
    make_limiter: Callable[[Clock], Limiter] = lambda clock: NoLimit(),
) -> Outcome:
    """Request 4's loop under `driver`, answered from `replies` (the simulator
    answers 200 or 429 only). As from the mock server, a 200 takes `latency`
    fake seconds and anything else comes back at once."""
    lines: list[str] = []
    policy = policy or RetryPolicy()
    script = iter(replies)

    def loop(recorder: Recorder, limiter: Limiter, **more: Any) -> Steps[bool]:
        return request_loop(4, limiter, policy, recorder, time_scale=time_scale, **more)

    if driver == "asyncio":
        fake = FakeTime()
        recorder = Recorder("t", 1, lines.append, clock=fake.clock)

        async def send() -> Reply:
            reply = next(script)
            await fake.sleep(latency if reply.outcome == "ok" else 0.0)
            return reply

        async def main() -> bool:
            [ok] = await fake.run(
                drive(loop(recorder, make_limiter(fake.clock)), send, sleep=fake.sleep)
            )
            return ok

        ok: bool | None = asyncio.run(main())
    elif driver == "threads":
        clock = FakeThreadTime()
        recorder = Recorder("t", 1, lines.append, clock=clock.clock)

        def send_sync(timeout: float) -> Reply:
            reply = next(script)
            clock.now += latency if reply.outcome == "ok" else 0.0
            return reply

        threads = ThreadDriver(recorder, send_sync, sleep=clock.sleep)
        ok = threads.drive(loop(recorder, make_limiter(clock.clock), proceed=threads.proceed))
    else:
        answers = (r.status == 200 for r in replies)
        sim = Simulation(ScriptedServer(answers), lambda rng: latency, random_source())
        recorder = Recorder("t", 1, lines.append, clock=sim.clock)
        results: list[bool] = []

        def wrapped() -> Generator[Step, Any, None]:
            results.append((yield from loop(recorder, make_limiter(sim.clock))))

        sim.start(wrapped())
        assert sim.run()
        ok = results[0]
    return Outcome(ok, recorder.result().attempts, lines)


def random_source() -> Any:
    import random

    return random.Random(0)


def test_classify() -> None:
    statuses = (200, 429, 500, 201, 404)
    assert [classify(s) for s in statuses] == ["ok", "rate_limited", "error", "error", "error"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_retries_until_ok_and_records_every_attempt(driver: DriverName) -> None:
    out = run_one(driver, [LIMITED, LIMITED, OK])
    assert out.ok is True
    assert [
        (a.attempt, a.queued, a.sent, a.finished, a.status, a.outcome) for a in out.attempts
    ] == [
        (0, 0.0, 0.0, 0.0, 429, "rate_limited"),
        (1, 3.0, 3.0, 3.0, 429, "rate_limited"),
        (2, 9.0, 9.0, 9.25, 200, "ok"),
    ]
    assert out.lines == [
        "[Request 4] Sending 0.00",
        "[Request 4] FAIL 0.00: retry in 3 seconds",
        "[Request 4] Sending 3.00",
        "[Request 4] FAIL 3.00: retry in 6 seconds",
        "[Request 4] Sending 9.00",
        "[Request 4] SUCCESS 9.25: receive hello world",
    ]


@pytest.mark.parametrize("driver", DRIVERS)
def test_retry_sleeps_follow_the_time_scale(driver: DriverName) -> None:
    out = run_one(driver, [LIMITED, OK], latency=0.0, time_scale=0.1)
    assert [a.sent for a in out.attempts] == pytest.approx([0.0, 0.3])


@pytest.mark.parametrize("driver", DRIVERS)
def test_out_of_attempts_is_a_failure_not_an_exception(driver: DriverName) -> None:
    out = run_one(driver, [LIMITED] * 5, policy=RetryPolicy("writeup"))
    assert out.ok is False
    assert len(out.attempts) == 5
    fails = [line.split(": ", 1)[1] for line in out.lines if "FAIL" in line]
    assert fails == [
        "retry in 3 seconds",
        "retry in 9 seconds",
        "retry in 81 seconds",
        "retry in 6561 seconds",
        "hit max retry limit",
    ]


@pytest.mark.parametrize("driver", DRIVERS)
def test_policy_none_sends_once(driver: DriverName) -> None:
    out = run_one(driver, [LIMITED], policy=RetryPolicy("none"))
    assert (out.ok, len(out.attempts)) == (False, 1)


@pytest.mark.parametrize("driver", DRIVERS)
def test_limiter_wait_is_recorded_and_every_attempt_pays_a_token(driver: DriverName) -> None:
    out = run_one(
        driver,
        [LIMITED, OK],
        latency=0.0,
        policy=RetryPolicy(first_sleep=0.0),
        make_limiter=lambda clock: TokenBucket(2.0, 2, clock=clock),
    )
    first, retry = out.attempts
    assert (first.queued, first.sent, first.limiter_wait) == (0.0, 0.5, 0.5)
    # The retry became ready at 0.5 and waited for the next token, at 1.0.
    assert (retry.queued, retry.sent, retry.limiter_wait) == (0.5, 1.0, 0.5)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_429_shuts_the_reopen_gate_for_the_next_attempt(driver: DriverName) -> None:
    # The reply says the window reopens in 0.7 s; the gate adds its 0.05 s
    # margin, and the retry (no fixed sleep) waits at the gate until then.
    said = Reply(429, "rate_limited", reopens_in=0.7)
    out = run_one(
        driver,
        [said, OK],
        latency=0.0,
        policy=RetryPolicy(first_sleep=0.0),
        make_limiter=lambda clock: ReopenGate(0.05, fallback=3.0, clock=clock),
    )
    if driver == "simulator":  # its replies carry no headers: the fallback applies
        assert out.attempts[1].sent == pytest.approx(3.05)
    else:
        assert out.attempts[1].sent == pytest.approx(0.75)
        assert out.attempts[1].limiter_wait == pytest.approx(0.75)


def test_cancelled_on_the_wire_is_recorded_as_timeout() -> None:
    async def main() -> None:
        fake = FakeTime()
        recorder = Recorder("t", 1, clock=fake.clock)
        slots = Semaphore(1)

        async def send() -> Reply:
            await fake.sleep(10.0)
            return OK

        loop = request_loop(0, slots, RetryPolicy(), recorder)
        task = asyncio.ensure_future(drive(loop, send, sleep=fake.sleep))
        await fake.settle()
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
        assert slots.free == 1  # and the slot was given back

    asyncio.run(main())


@pytest.mark.parametrize("driver", ["asyncio", "threads"])
def test_a_send_that_raises_is_recorded_as_error(driver: str) -> None:
    recorder = Recorder("t", 1)
    loop = request_loop(0, NoLimit(), RetryPolicy("none"), recorder)
    if driver == "asyncio":

        async def broken() -> Reply:
            raise RuntimeError("bug")

        ok = asyncio.run(drive(loop, broken))
    else:

        def broken_sync(timeout: float) -> Reply:
            raise RuntimeError("bug")

        ok = ThreadDriver(recorder, broken_sync).drive(loop)
    assert ok is False
    assert [a.outcome for a in recorder.result().attempts] == ["error"]


def test_the_simulators_deadline_ends_the_loops_as_asyncio_cancels_them() -> None:
    # Two requests of 10 s through a semaphore of 1, deadline at 4 s: the one
    # on the wire is recorded as a timeout at 4 s, the one waiting not at all.
    sim = Simulation(
        ScriptedServer(iter([True, True])), lambda rng: 10.0, random_source(), deadline=4.0
    )
    recorder = Recorder("t", 2, clock=sim.clock)
    slots = Semaphore(1, clock=sim.clock)
    for r in range(2):
        sim.start(request_loop(r, slots, RetryPolicy(), recorder))
    assert not sim.run()
    [attempt] = recorder.result().attempts
    assert (attempt.request, attempt.sent, attempt.finished, attempt.outcome) == (
        0,
        0.0,
        4.0,
        "timeout",
    )
    assert len(slots.waiters) == 0


# --- the shapes ----------------------------------------------------------------------


def test_workers_take_the_next_request_when_free() -> None:
    # Two workers, five requests of 1 s each (all accepted): 0 and 1 at t = 0,
    # then each worker takes the next as it comes free.
    sim = Simulation(ScriptedServer(iter([True] * 5)), lambda rng: 1.0, random_source())
    recorder = Recorder("t", 5, clock=sim.clock)
    limiter = NoLimit()

    def loop(r: int) -> Steps[bool]:
        return request_loop(r, limiter, RetryPolicy(), recorder)

    workers = processes("workers", 5, 2, loop)
    assert len(workers) == 2
    for w in workers:
        sim.start(w)
    sim.run()
    assert [(a.request, a.sent) for a in recorder.result().attempts] == [
        (0, 0.0),
        (1, 0.0),
        (2, 1.0),
        (3, 1.0),
        (4, 2.0),
    ]
    assert len(processes("workers", 3, 8, loop)) == 3  # never more workers than requests
    assert len(processes("tasks", 3, 8, loop)) == 3


# --- the semaphore: hand-over, first come first served -------------------------------


def semaphore_run(driver: DriverName) -> list[tuple[int, float]]:
    """Five requests of 1 s through a semaphore of 2; (request, sent) in order sent."""
    if driver == "simulator":
        sim = Simulation(ScriptedServer(iter([True] * 5)), lambda rng: 1.0, random_source())
        recorder = Recorder("t", 5, clock=sim.clock)
        slots = Semaphore(2, clock=sim.clock)
        for r in range(5):
            sim.start(request_loop(r, slots, RetryPolicy(), recorder))
        sim.run()
    else:
        fake = FakeTime()
        recorder = Recorder("t", 5, clock=fake.clock)
        slots = Semaphore(2, clock=fake.clock)

        async def send() -> Reply:
            await fake.sleep(1.0)
            return OK

        async def main() -> None:
            loops = [request_loop(r, slots, RetryPolicy(), recorder) for r in range(5)]
            await fake.run(*(drive(loop, send, sleep=fake.sleep) for loop in loops))

        asyncio.run(main())
    assert slots.free == 2
    attempts = sorted(recorder.result().attempts, key=lambda a: (a.sent, a.request))
    return [(a.request, a.sent) for a in attempts]


@pytest.mark.parametrize("driver", ["asyncio", "simulator"])
def test_semaphore_hands_slots_over_in_order(driver: DriverName) -> None:
    assert semaphore_run(driver) == [(0, 0.0), (1, 0.0), (2, 1.0), (3, 1.0), (4, 2.0)]


def test_a_cancelled_waiter_leaves_the_queue_and_a_woken_one_passes_its_slot_on() -> None:
    async def main() -> None:
        fake = FakeTime()
        slots = Semaphore(1, clock=fake.clock)
        held = await drive(slots.acquire())  # the only slot
        assert held == 0.0
        never = asyncio.ensure_future(drive(slots.acquire()))
        woken = asyncio.ensure_future(drive(slots.acquire()))
        last = asyncio.ensure_future(drive(slots.acquire()))
        await fake.settle()
        assert len(slots.waiters) == 3
        never.cancel()  # cancelled while parked: it just leaves
        await fake.settle()
        assert len(slots.waiters) == 2
        slots.release()  # hands the slot to `woken`...
        woken.cancel()  # ...which is cancelled before it can run: `last` gets it
        await fake.settle()
        assert last.done()
        assert woken.cancelled()
        assert (slots.free, len(slots.waiters)) == (0, 0)

    asyncio.run(main())


# --- the thread driver: deadline, stop, Ctrl-C ---------------------------------------


def test_thread_driver_retries_and_records() -> None:
    clock = FakeThreadTime()
    lines: list[str] = []
    recorder = Recorder("t", 1, lines.append, clock=clock.clock)
    replies = iter([Reply(500, "error"), Reply(None, "timeout"), OK])
    timeouts: list[float] = []

    def send(timeout: float) -> Reply:
        timeouts.append(timeout)
        clock.now += 1.0
        return next(replies)

    driver = ThreadDriver(recorder, send, deadline=100.0, request_timeout=60.0, sleep=clock.sleep)
    policy = RetryPolicy(first_sleep=0.0)
    ok = driver.drive(request_loop(2, NoLimit(), policy, recorder, proceed=driver.proceed))
    assert ok is True
    assert [(a.attempt, a.sent, a.finished, a.outcome) for a in recorder.result().attempts] == [
        (0, 0.0, 1.0, "error"),
        (1, 1.0, 2.0, "timeout"),
        (2, 2.0, 3.0, "ok"),
    ]
    assert timeouts == [60.0, 60.0, 60.0]
    assert lines[-1] == "[Request 2] SUCCESS 3.00: receive hello world"


def seven_second_429s(first_sleep: float) -> tuple[list[float], list[float], int]:
    """One request whose attempts each take 7 s and get a 429, deadline 10 s:
    (timeouts given to send, sleeps slept, attempts recorded)."""
    clock = FakeThreadTime()
    recorder = Recorder("t", 1, clock=clock.clock)
    timeouts: list[float] = []

    def send(timeout: float) -> Reply:
        timeouts.append(timeout)
        clock.now += 7.0
        return LIMITED

    driver = ThreadDriver(recorder, send, deadline=10.0, request_timeout=60.0, sleep=clock.sleep)
    policy = RetryPolicy(first_sleep=first_sleep)
    ok = driver.drive(request_loop(0, NoLimit(), policy, recorder, proceed=driver.proceed))
    assert not ok
    return timeouts, clock.slept, len(recorder.result().attempts)


def test_thread_driver_cuts_a_sleep_at_the_deadline_and_starts_nothing_after_it() -> None:
    # The retry would start at 7 + 3 s, at the deadline: its sleep ends there
    # and the attempt never starts.
    assert seven_second_429s(first_sleep=3.0) == ([10.0], [3.0], 1)


def test_thread_driver_shortens_the_last_timeout_to_end_by_the_deadline() -> None:
    # The retry starts at 7 s with 3 s to go: its timeout is cut to end by the deadline.
    assert seven_second_429s(first_sleep=0.0) == ([10.0, 3.0], [0.0], 2)


def test_thread_driver_starts_nothing_once_stopped() -> None:
    clock = FakeThreadTime()
    recorder = Recorder("t", 1, clock=clock.clock)
    driver = ThreadDriver(recorder, sleep=clock.sleep)

    def send(timeout: float) -> Reply:
        driver.stop()  # as if Ctrl-C arrived while this attempt was on the wire
        return LIMITED

    driver.send = send
    ok = driver.drive(request_loop(0, NoLimit(), RetryPolicy(), recorder, proceed=driver.proceed))
    assert not ok
    assert len(recorder.result().attempts) == 1
    assert clock.slept == []  # and no 3 s retry sleep either


def counter_steps(shared: list[int], rounds: int) -> Steps[None]:
    """A read-modify-write with a thread switch in the middle, between two yields."""
    for _ in range(rounds):
        value = shared[0]
        time.sleep(0.0002)  # lets the other threads run, if the driver lets them in
        shared[0] = value + 1
        yield Sleep(0.0)


def test_thread_driver_runs_code_between_yields_atomically() -> None:
    shared = [0]
    driver = ThreadDriver(Recorder("t", 1))
    driver.run([counter_steps(shared, 25) for _ in range(8)])
    assert shared[0] == 8 * 25  # no update lost


def test_thread_driver_raises_a_bug_in_a_generator_and_stops_the_others() -> None:
    recorder = Recorder("t", 1)
    driver = ThreadDriver(recorder)

    def buggy() -> Steps[None]:
        yield Sleep(0.01)
        raise RuntimeError("bug in a limiter")

    def patient() -> Steps[None]:
        yield Sleep(60.0)  # ended at once by the stop

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="bug in a limiter"):
        driver.run([buggy(), patient()])
    assert time.monotonic() - began < 10.0
    assert driver.stopped


def test_thread_driver_on_ctrl_c_lets_attempts_on_the_wire_finish_and_starts_no_more() -> None:
    recorder = Recorder("t", 4)
    sends: list[float] = []
    slots = Semaphore(1)

    def send(timeout: float) -> Reply:
        sends.append(recorder.now())
        if len(sends) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, to the main thread
            time.sleep(0.3)  # still on the wire while the main thread stops the rest
        return LIMITED

    driver = ThreadDriver(recorder, send)

    def loop(r: int) -> Steps[bool]:
        return request_loop(r, slots, RetryPolicy(), recorder, proceed=driver.proceed)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            driver.run(processes("tasks", 4, 4, loop), name="ctrl_c")
    finally:
        signal.signal(signal.SIGINT, previous)
    # Every thread has ended. The attempt on the wire finished and was
    # recorded; the requests parked behind the semaphore were woken and sent
    # nothing; no retry sleep (3 s) was waited out and no retry started.
    assert not [t for t in threading.enumerate() if t.name.startswith("ctrl_c")]
    assert len(sends) == 1
    [attempt] = recorder.result().attempts
    assert attempt.outcome == "rate_limited"
    assert recorder.now() < 2.0
    assert (slots.free, len(slots.waiters)) == (1, 0)


# --- steps a driver cannot carry out -------------------------------------------------


async def _nothing() -> None:
    return None


def awaiting() -> Steps[float]:
    yield Await(_nothing)
    return 0.0


def test_only_the_asyncio_driver_awaits() -> None:
    assert asyncio.run(drive(awaiting())) == 0.0
    with pytest.raises(TypeError, match=r"thread driver cannot carry out Await\("):
        ThreadDriver(Recorder("t", 1)).drive(awaiting())
    sim = simulation()
    sim.start(awaiting())
    with pytest.raises(TypeError, match="simulator driver cannot carry out"):
        sim.run()


def test_waiters_wake_first_come_first_served() -> None:
    queue = Waiters()
    woken: list[str] = []
    first, second = Park(queue), Park(queue)
    queue.park(first, lambda: woken.append("first"))
    queue.park(second, lambda: woken.append("second"))
    assert queue.wake_one()
    assert (woken, first.woken, second.woken) == (["first"], True, False)
    assert queue.discard(second)
    assert not queue.discard(first)  # woken already
    assert not queue.wake_one()


def test_log_lines_are_in_scenario_seconds_at_any_time_scale() -> None:
    """At time scale 0.1 a send 0.3 wall seconds in is 3 scenario seconds in, the unit
    of the retry sleep printed on the same line."""
    now = [100.0]
    lines: list[str] = []
    recorder = Recorder("t", 1, lines.append, clock=lambda: now[0], time_scale=0.1)
    now[0] += 0.3
    recorder.sending(0, 0, recorder.now())
    recorder.sleeping(0, recorder.now(), 6.0)
    assert lines == ["[Request 0] Sending 3.00", "[Request 0] FAIL 3.00: retry in 6 seconds"]
    assert recorder.scenario_now() == pytest.approx(3.0)
