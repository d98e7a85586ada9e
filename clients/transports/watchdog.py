"""One thread per process that ends blocking attempts whose time has run out.

requests applies its timeout to the connect and to each read of the socket,
so a server that trickles its body one byte at a time never trips it: an
attempt could last as long as the server pleases. The watchdog bounds the
whole attempt instead: when an attempt's deadline passes, it shuts the
attempt's socket, which wakes a read blocked on it at once. One thread
serves every attempt of the process (a timer per attempt would double the
threads of a thread-per-request client).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable


class Budget:
    """One attempt's wall-clock budget: `deadline` on the watchdog's clock.

    `fired` is True once the watchdog cut the attempt. `watch(sock)` hands it
    the attempt's socket once connected; `done()` withdraws it before the
    socket is closed, so a cut never reaches a socket that was reused.
    """

    __slots__ = ("_dog", "deadline", "done_", "fired", "sock")

    def __init__(self, dog: Watchdog, deadline: float) -> None:
        self._dog = dog
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.fired = False
        self.done_ = False

    def __repr__(self) -> str:
        return f"<Budget deadline={self.deadline} fired={self.fired} done={self.done_}>"

    def remaining(self) -> float:
        """Seconds left, never below 1 ms (a socket timeout of 0 means non-blocking)."""
        return max(0.001, self.deadline - self._dog.clock())

    def watch(self, sock: socket.socket) -> None:
        """The attempt's connection is open: cut it at the deadline (at once if past)."""
        with self._dog.lock:
            self.sock = sock
            if self.fired:
                _shut(sock)

    def done(self) -> None:
        with self._dog.lock:
            self.done_ = True
            self.sock = None


def _shut(sock: socket.socket) -> None:
    # An OSError: already closed or never connected, nothing left to cut.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """Cuts the socket of every `Budget` still running at its deadline."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Budget]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Watchdog watching={len(self._heap)}>"

    def budget(self, seconds: float) -> Budget:
        """A budget that runs out `seconds` from now; call its `done()` when finished."""
        budget = Budget(self, self.clock() + seconds)
        with self.lock:
            heapq.heappush(self._heap, (budget.deadline, next(self._order), budget))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()
        return budget

    def _watch(self) -> None:
        with self.lock:
            while True:
                now = self.clock()
                while self._heap and self._heap[0][0] <= now:
                    _, _, budget = heapq.heappop(self._heap)
                    if not budget.done_:
                        budget.fired = True
                        if budget.sock is not None:
                            _shut(budget.sock)
                wait = self._heap[0][0] - now if self._heap else None
                self._changed.wait(wait)


#: The process's watchdog, shared by every thread.
WATCHDOG = Watchdog()
