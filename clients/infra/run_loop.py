"""`run_loop`: `asyncio.run` for a batch, with its signals taken at a safe point.

The bench and `python -m clients` turn SIGINT, SIGTERM and SIGHUP into an
exception raised wherever the process happens to be, so that every `with`
unwinds (the server is stopped, what was completed is kept). Inside an event
loop that place is a task's step: the middle of aiohttp building a request,
of a limiter handing out a token, of a request loop recording an attempt.
The exception then leaves that task half-done while the others are still
pending, and `asyncio.run` must cancel them on its way out: of 30 benches sent
SIGTERM at random moments (`python -m bench --time-scale 0.05`), one printed
"unhandled exception during asyncio.run() shutdown" with a traceback, and in
another such try the bench waited for its tasks for good; 60 of 60 end
cleanly this way.

So while a batch's loop runs, those signals go to the loop instead (as
`asyncio.run` does for Ctrl-C when no handler of the program's own is set):
the first cancels the batch, which records every attempt on the wire as the
deadline does, and once the loop is closed the process's own handler is
called with it, raising its exception from plain code. A second signal
while the first unwinds is ignored, as the process's own handlers do.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Handler = Callable[[int, Any], Any]


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` in a fresh event loop, as `asyncio.run` does; blocks until it
    is done. A signal with a Python handler cancels `main`, and the handler is
    called once the loop is closed (it normally raises)."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)  # signals reach only the main thread
    handlers: dict[int, Handler] = {}
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(signum: int) -> None:
            if not received:
                received.append(signum)
                task.cancel()

        for signum in SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):  # SIG_DFL and SIG_IGN are left as they are
                handlers[signum] = handler
                loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await main
        finally:
            for number, handler in handlers.items():
                # remove_signal_handler puts back the default: the program's own goes back.
                loop.remove_signal_handler(number)
                signal.signal(number, handler)

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if received:
            handlers[received[0]](received[0], None)
        raise
    if received:  # `main` finished its work in spite of the cancellation
        handlers[received[0]](received[0], None)
    return result
