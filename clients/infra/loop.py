"""One request's life, written once: acquire, send, record, sleep, retry.

`request_loop` is a generator of steps (`clients.infra.steps`): the asyncio
driver, the thread driver and the simulator all run this very code, so
theory predicts the loop the clients run. Each attempt:

1. becomes ready (`queued`): at the run's start for the first try, at the
   end of the retry sleep for later ones;
2. waits in the limiter (`limiter_wait`), then goes on the wire (`sent`);
3. comes back (`finished`) as a `Reply`, and is recorded whatever happened.

The write-up acquired its token inside the `try`, before every attempt, so
retries pay for a token too; so do we. Its "Sending" line was printed before
the limiter wait; ours is printed when the attempt is really sent.

Two shapes of batch (`processes`): "tasks", one loop per request, all
started at once (asyncio.gather, a thread per request); and "workers", N
loops that each take the next request from a shared queue when free (a
thread pool), staying with it through its sends and retry sleeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from clients.infra.recorder import Recorder
from clients.infra.retry import RetryPolicy
from clients.infra.steps import Send, Sleep, Steps
from clients.spec import Shape

if TYPE_CHECKING:
    from clients.infra.attempts import Reply
    from clients.limiters.base import Limiter


def always() -> bool:
    return True


def request_loop(
    request: int,
    limiter: Limiter,
    policy: RetryPolicy,
    recorder: Recorder,
    *,
    time_scale: float = 1.0,
    proceed: Callable[[], bool] = always,
) -> Steps[bool]:
    """Send request `request` until it succeeds or runs out of attempts.

    Returns True if an attempt came back `ok`. Retry sleeps are the
    policy's scenario seconds times `time_scale` (1 in the simulator, which
    counts scenario seconds). `proceed` is asked before each attempt and
    again once the limiter let it go: the thread driver, which cannot cancel
    a blocked thread, stops a request from inside with it (the run's
    deadline, Ctrl-C). If the driver abandons the loop while an attempt is
    on the wire (asyncio: the run's deadline cancels it), that attempt is
    recorded as a `timeout`.
    """
    queued = 0.0
    for attempt in range(policy.max_attempts):
        if attempt > 0:
            yield Sleep(policy.sleep_before(attempt) * time_scale)
            queued = recorder.now()
        if not proceed():
            return False
        waited = yield from limiter.acquire()
        if not proceed():  # the limiter held us past the deadline
            limiter.release()
            return False
        on_wire = limiter.on_wire()
        sent = recorder.now()
        recorder.sending(request, attempt, sent)
        try:
            reply: Reply = yield Send(request, attempt, on_wire)
        except GeneratorExit:
            limiter.release()
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
        limiter.release()
        limiter.observe(reply)
        finished = recorder.now()
        recorder.record(
            request,
            attempt,
            queued=queued,
            # The transport's stamp, when it has one: the request reached the
            # wire then, after any wait for a connection, not when it was handed over.
            sent=sent if reply.sent is None else min(max(reply.sent, sent), finished),
            finished=finished,
            status=reply.status,
            outcome=reply.outcome,
            limiter_wait=waited,
            pool_wait=reply.pool_wait,
        )
        if reply.outcome == "ok":
            recorder.succeeded(request, finished, reply.body)
            return True
        if attempt + 1 < policy.max_attempts and not reply.final:
            recorder.sleeping(request, finished, policy.sleep_before(attempt + 1))
        else:
            recorder.gave_up(request, finished)
            return False
    return False


RequestLoop = Callable[[int], Steps[bool]]


def worker_loop(queue: deque[int], loop: RequestLoop) -> Steps[int]:
    """A pool thread: take the next request when free, run it to its end; repeat.

    Returns how many of its requests succeeded.
    """
    succeeded = 0
    while queue:
        succeeded += yield from loop(queue.popleft())
    return succeeded


def processes(shape: Shape, n: int, workers: int, loop: RequestLoop) -> list[Steps[object]]:
    """The generators that run a batch of `n` requests, in the order to start them.

    "tasks": `loop(r)` for every request r; "workers": `workers` (at most
    n) `worker_loop`s over one queue of the requests, in order.
    """
    if shape == "workers":
        queue = deque(range(n))
        return [worker_loop(queue, loop) for _ in range(min(workers, n))]
    return [loop(r) for r in range(n)]
