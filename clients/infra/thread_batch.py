"""The thread runner: a ThreadPoolExecutor working through the batch.

This is the write-up's first client: `executor.map(call_api, ...)` over a
pool of `config.workers` threads, each attempt a blocking `requests.get`.
The pool size is its only limit unless a limiter is plugged in.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import call_with_retries_sync
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.retry import RetryPolicy
from clients.limiters.base import SyncLimiter
from clients.transports import requests_send as http_requests

SyncLimiterFactory = Callable[[ClientConfig], SyncLimiter]


def run_thread_batch(
    client: str,
    config: ClientConfig,
    make_limiter: SyncLimiterFactory,
    on_line: OnLine | None = None,
    *,
    threads: int | None = None,
) -> ClientRun:
    """Run the batch on `threads` threads (default `config.workers`); blocks until
    done or the deadline passes.

    `on_line` is called from the worker threads, one call at a time.
    """
    recorder = Recorder(client, config.n, on_line)
    recorder.line(loglines.start(recorder.now()))
    limiter = make_limiter(config)
    policy = RetryPolicy.from_config(config)
    deadline = config.scaled(config.deadline)
    send = functools.partial(http_requests.send, config.url)
    stop = threading.Event()
    with ThreadPoolExecutor(threads or config.workers, thread_name_prefix=client) as pool:
        futures = [
            pool.submit(
                call_with_retries_sync,
                i,
                send,
                limiter=limiter,
                policy=policy,
                recorder=recorder,
                time_scale=config.time_scale,
                deadline=deadline,
                request_timeout=config.scaled(config.request_timeout),
                stop=stop,
            )
            for i in range(config.n)
        ]
        try:
            for future in futures:
                future.result()  # re-raise a bug in a worker instead of hiding it
        except BaseException:
            # Ctrl-C or a bug: let the workers finish the attempt they are in
            # (a blocking requests.get cannot be interrupted) and start no more.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    run = recorder.result()
    if recorder.now() >= deadline and run.failed:
        recorder.line(loglines.deadline(recorder.now(), run.failed))
    recorder.line(loglines.finish(recorder.now()))
    return recorder.result()
