"""The thread driver: each request loop on a thread of its own, blocking `requests`.

The write-up's first client is `executor.map(call_api, ...)` over a pool of
`config.workers` threads, each attempt a blocking `requests.get`: here, the
"workers" shape, that many threads each taking the next request from a
shared queue. The "tasks" shape is a thread per request. Either way the
threads carry out the steps of the one request loop (`clients.infra.loop`)
and the same limiters as the asyncio clients.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import Reply, crashed
from clients.infra.loop import processes, request_loop
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Park, Send, Sleep, Steps, unsupported
from clients.limiters.base import Limiter
from clients.spec import Shape
from clients.transports import requests_send as http_requests

T = TypeVar("T")

SyncSend = Callable[[float], Reply]  # takes its timeout in wall seconds
LimiterFactory = Callable[[ClientConfig], Limiter]


class ThreadDriver:
    """Carries out steps on threads, one generator per thread, all under one lock.

    The lock is held while any generator runs (between two of its yields)
    and let go while a thread sleeps, sends or is parked, so the policy code
    runs one step at a time, as under asyncio. Times are `recorder.now()`
    (wall seconds from the run's start).

    A blocked thread cannot be cancelled, so the deadline (`deadline`, wall
    seconds from the run's start) is enforced from inside: `proceed` tells
    the request loop to start no attempt after it, sleeps are cut short at
    it (a generator that asks to sleep once it has passed is closed), and
    each attempt's timeout (`request_timeout`, wall seconds) is shortened so
    it ends by then. `stop()` (Ctrl-C) ends sleeps and waits at once and starts no
    further attempt; an attempt on the wire finishes. `sleep` (default: a
    wait that `stop()` interrupts) may be replaced by tests.
    """

    def __init__(
        self,
        recorder: Recorder,
        send: SyncSend | None = None,
        *,
        deadline: float = math.inf,
        request_timeout: float = 60.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.recorder = recorder
        self.send = send
        self.deadline = deadline
        self.request_timeout = request_timeout
        self._stopped = threading.Event()
        self._sleep = self._stopped.wait if sleep is None else sleep
        self._lock = threading.Lock()
        self._parked: set[threading.Event] = set()

    def __repr__(self) -> str:
        return f"<ThreadDriver stopped={self.stopped} parked={len(self._parked)}>"

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def proceed(self) -> bool:
        """True while a new attempt may start: not stopped, the deadline not reached."""
        return not self._stopped.is_set() and self.recorder.now() < self.deadline

    def stop(self) -> None:
        """Start nothing more: end every sleep and wait; attempts on the wire finish."""
        with self._lock:
            self._stopped.set()
            for woken in self._parked:
                woken.set()

    def drive(self, steps: Steps[T]) -> T | None:
        """Carry out `steps` on the calling thread until the generator returns; return
        its value, or None if the deadline or `stop()` ended it first."""
        value: Any = None
        while True:
            with self._lock:
                try:
                    step = steps.send(value)
                except StopIteration as done:
                    result: T = done.value
                    return result
                if isinstance(step, Sleep) and not self.proceed():
                    steps.close()
                    return None
                if isinstance(step, Park):
                    woken = threading.Event()
                    # Registered under the lock: the decision to park and the
                    # place in the queue are one step.
                    step.queue.park(step, woken.set)
                    self._parked.add(woken)
                    if self._stopped.is_set():
                        woken.set()
            if isinstance(step, Sleep):
                self._sleep(max(0.0, min(step.seconds, self.deadline - self.recorder.now())))
                value = None
            elif isinstance(step, Send):
                value = self._send()
            elif isinstance(step, Park):
                woken.wait()
                with self._lock:
                    self._parked.discard(woken)
                    if not step.woken:  # woken by stop(), not handed what it waited for
                        steps.close()
                        return None
                value = None
            else:
                with self._lock:
                    steps.close()
                raise unsupported(step, "thread")

    def _send(self) -> Reply:
        if self.send is None:
            raise TypeError("the thread driver was given no send function")
        sent = self.recorder.now()
        timeout = max(0.001, min(self.request_timeout, self.deadline - sent))
        try:
            return self.send(timeout)
        except Exception as exc:  # a bug in `send` must not lose the record
            return crashed(exc)

    def run(self, generators: Sequence[Steps[Any]], name: str = "driver") -> None:
        """Drive each generator on a thread of its own; blocks until all have ended.

        A bug in a generator stops the others and is raised here. On Ctrl-C
        (or any exception in the calling thread) the threads are stopped,
        let finish the attempt they are in (a blocking `requests.get` cannot
        be interrupted) and joined before it propagates.
        """
        errors: list[BaseException] = []

        def work(steps: Steps[Any]) -> None:
            try:
                self.drive(steps)
            except BaseException as exc:
                errors.append(exc)
                self.stop()

        threads: list[threading.Thread] = []
        try:
            for i, steps in enumerate(generators):
                threads.append(threading.Thread(target=work, args=(steps,), name=f"{name}_{i}"))
                threads[-1].start()
            for thread in threads:
                thread.join()
        except BaseException:
            self.stop()
            for thread in threads:
                if thread.ident is not None:  # started
                    thread.join()
            raise
        if errors:
            raise errors[0]


def run_thread_batch(
    client: str,
    config: ClientConfig,
    make_limiter: LimiterFactory,
    on_line: OnLine | None = None,
    *,
    shape: Shape = "workers",
) -> ClientRun:
    """Run the batch on threads: `config.workers` pool threads ("workers") or one
    per request ("tasks"); blocks until done or the deadline passes.

    `on_line` is called from the threads, one call at a time.
    """
    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    recorder.line(loglines.start(recorder.scenario_now()))
    limiter = make_limiter(config)
    policy = RetryPolicy.from_config(config)
    deadline = config.scaled(config.deadline)
    driver = ThreadDriver(
        recorder,
        functools.partial(
            http_requests.send, config.url, now=recorder.now, headers=config.auth_headers
        ),
        deadline=deadline,
        request_timeout=config.scaled(config.request_timeout),
    )

    def loop(request: int) -> Steps[bool]:
        return request_loop(
            request,
            limiter,
            policy,
            recorder,
            time_scale=config.time_scale,
            proceed=driver.proceed,
        )

    driver.run(processes(shape, config.n, config.workers, loop), name=client)
    run = recorder.result()
    if recorder.now() >= deadline and run.failed:
        recorder.line(loglines.deadline(recorder.scenario_now(), run.failed))
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()
