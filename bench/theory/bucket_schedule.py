"""The best possible schedule under token buckets: each request, in file order, at
the first instant every bucket it draws on holds its charge.

The server's buckets (`mock_server.token_bucket`) start full, regain `rate`
units a second up to `capacity`, and charge a request in every bucket it
draws on or in none (a refused request costs nothing). Their state is one
number each, the instant the bucket is full again (`full_at`): a cost `c`
fits at `t` once `full_at - t <= (capacity - c) / rate`, and charging it
moves `full_at` to `max(full_at, t) + c / rate` (`Bucket.charged`, the
server's own). So each send here is `max(the previous send, over the
buckets: full_at - (capacity - c) / rate)`, in closed form. The server
grants a microsecond of slack for clock rounding (`SLACK`), which this
schedule leaves out: a bound, not a rounding.

**Why no file-order schedule that is never refused sends any request
earlier.** A bucket's level at `t` is the least, over `s <= t`, of
`capacity + rate x (t - s) - what was charged in (s, t]`; charging
something earlier never lowers it at any later instant. By induction: if
every earlier request went here no later than in the other schedule, each
bucket holds at least as much here at the instant the other sends request
i, so request i fits here by then. Every send being at or before the
other's, the latest answer (on the same latency draws) is too: its
expected value is the best possible makespan for file order, exact.

**Never later than the windows' best schedule for the same limits** (N per
window W, against a bucket of N refilled at N per W, as the server makes
from the same limit): the windows' schedule sends at most N at 0, W, 2W,
... and never empties such a bucket (at `kW`, the charges since `jW` are
at most `(k - j + 1) N <= N + N/W x (k - j) W`), so it is one of the
schedules above. That holds for a bucket holding a `--quantize` slice's
worth too (its rate, the minute's, is at least a slice's worth per slice).
It does not hold against the sliding-window counter's own schedule, which
can admit nearly twice a window's worth across a window's edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from clients.infra.steps import Sleep, Steps
from clients.limiters.base import Clock, Limiter
from mock_server.token_bucket import Bucket


def earliest_sends(costs: Sequence[Sequence[int]], buckets: Sequence[Bucket]) -> list[float]:
    """When each request goes, in seconds from the batch's start (the seconds of the
    buckets' rates), in file order: `costs[i][b]` is request i's charge in bucket `b`.

    ValueError for a charge above its bucket's capacity: it never fits.
    """
    full_at = [0.0] * len(buckets)  # 0: full at the batch's start, as the server's
    t = 0.0
    sends: list[float] = []
    for request, charges in enumerate(costs):
        for bucket, full, cost in zip(buckets, full_at, charges, strict=True):
            if cost > bucket.capacity:
                raise ValueError(
                    f"request {request} costs {cost}, more than the bucket's {bucket.capacity}"
                )
            t = max(t, full - (bucket.capacity - cost) / bucket.rate)
        full_at = [b.charged(f, t, c) for b, f, c in zip(buckets, full_at, charges, strict=True)]
        sends.append(t)
    return sends


def bucket_schedule(n: int, limit: int, window: float) -> list[float]:
    """`/chat`'s: `n` requests of one unit through a bucket of `limit`, refilled at
    `limit` per `window` seconds: `limit` at t = 0, then one every `window / limit`."""
    return earliest_sends([(1,)] * n, [Bucket(limit, limit / window)])


class EarliestBucket(Limiter):
    """A copy of the server's bucket on the client's side: each attempt waits until
    the bucket holds one unit, then takes it. Every request through it at once is
    the earliest schedule as a model (replays run it on a run's own draws).

    `clock` in the seconds of `bucket.rate`.
    """

    def __init__(self, bucket: Bucket, clock: Clock) -> None:
        self.bucket = bucket
        self.clock = clock
        self.full_at = clock()

    def __repr__(self) -> str:
        return f"<EarliestBucket {self.bucket!r} full at {self.full_at:g}>"

    def acquire(self) -> Steps[float]:
        start = self.clock()
        while (wait := self.bucket.wait(self.full_at, self.clock(), 1)) > 0:
            yield Sleep(wait)
        self.full_at = self.bucket.charged(self.full_at, self.clock(), 1)
        return self.clock() - start
