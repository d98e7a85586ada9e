"""A signal during an asyncio batch: taken by the loop, raised once it is closed."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from types import FrameType

import pytest

from clients.infra.run_loop import run_loop


class Stop(KeyboardInterrupt):
    """What the bench's and the clients' own handlers raise: a KeyboardInterrupt."""


def test_a_signal_cancels_the_batch_and_its_handler_runs_after_the_loop() -> None:
    # Before: the handler raised its exception inside whichever task step was
    # running, leaving that task half-done; asyncio.run then cancelled the rest
    # on its way out (one bench in about thirty printed a shutdown traceback).
    outcomes: list[str] = []
    calls: list[bool] = []  # for each call of the handler: was a loop running?

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(asyncio._get_running_loop() is not None)
        raise Stop

    async def busy() -> None:
        try:
            while True:
                await asyncio.sleep(0)  # a step at a time, as a batch's tasks take them
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise
        except BaseException:
            outcomes.append("interrupted mid-step")
            raise

    async def batch() -> None:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        await asyncio.gather(*(busy() for _ in range(20)))

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(Stop):
            run_loop(batch())
        assert signal.getsignal(signal.SIGTERM) is handler  # the program's own, back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert outcomes == ["cancelled"] * 20
    assert calls == [False]  # called once, with the loop closed
