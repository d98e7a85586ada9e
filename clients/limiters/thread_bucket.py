"""The write-up's token bucket for threads: the same arithmetic, a thread lock.

`BucketState` holds the refill and take rules; this class only swaps the
asyncio lock for a `threading.Lock` and `asyncio.sleep` for a blocking
sleep, so the threaded and the asyncio bucket cannot drift apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from clients.limiters.bucket import BucketState, Clock

Sleep = Callable[[float], None]


class ThreadTokenBucket(BucketState):
    """A token bucket shared by many threads; `acquire` blocks the calling thread.

    Same knobs and behaviour as `TokenBucket`: whole tokens, `initial_tokens`
    (0 by default) at the start, a waiter short of tokens sleeps
    `(need - tokens) / rate` wall seconds outside the lock and tries again.
    `clock` and `sleep` are attributes so tests can fake time.
    """

    def __init__(
        self,
        rate: float,
        capacity: int,
        initial_tokens: int = 0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        super().__init__(rate, capacity, initial_tokens, clock=clock)
        self.sleep = sleep
        self._lock = threading.Lock()

    def acquire(self, need: int = 1) -> float:
        """Block until `need` whole tokens are available and take them.

        Returns the seconds spent waiting (0.0 if the tokens were there).
        """
        self._check_need(need)
        start = self.clock()
        with self._lock:
            self.waiters += 1
        try:
            while True:
                with self._lock:
                    now, wait = self._take(need)
                if wait == 0.0:
                    return now - start
                # Outside the lock: the other threads check the bucket meanwhile.
                self.sleep(wait)
        finally:
            with self._lock:
                self.waiters -= 1
