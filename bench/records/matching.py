"""Which server log entry recorded which client attempt, and how far their clocks sit apart.

The client stamps when it sent and when it got the answer; the server stamps
when the request arrived and when it handed the response back, on the same
monotonic clock. Pairing the two tells how far a timeline can be trusted.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from bench.records.results import RunRecord

# Only arrivals this close to a send (wall seconds) can be its arrival; keeps
# the matching linear in the run's length instead of quadratic.
MATCH_WINDOW = 1.0


def match_arrivals(
    sends: Sequence[float],
    arrivals: Sequence[float],
    finished: Sequence[float] | None = None,
    left: Sequence[float | None] | None = None,
) -> list[tuple[int, int]]:
    """Pair each client attempt with the server log entry that recorded it.

    All times are absolute seconds on the shared monotonic clock: the
    client's send and finish, the server's arrival and `left` (response
    handed over; None if not logged). Returns (attempt index, log index)
    pairs; attempts with no arrival within `MATCH_WINDOW` of their send
    are left out.

    The cost of a pair is |arrival - send|, plus |left - finished| when
    both are known, and the cheapest pairs are taken first. Send order
    alone is not enough: two threads can stamp their sends in one order
    and reach the server in the other (one opens a new connection, the
    other reuses one), and only the finish times then tell them apart.
    """
    order = sorted(range(len(arrivals)), key=lambda j: arrivals[j])
    times = [arrivals[j] for j in order]
    candidates: list[tuple[float, int, int]] = []
    for i, sent in enumerate(sends):
        lo = bisect.bisect_left(times, sent - MATCH_WINDOW)
        hi = bisect.bisect_right(times, sent + MATCH_WINDOW)
        for j in order[lo:hi]:
            cost = abs(arrivals[j] - sent)
            end = left[j] if left is not None else None
            if finished is not None and end is not None:
                cost += abs(end - finished[i])
            candidates.append((cost, i, j))
    candidates.sort()
    used_sends: set[int] = set()
    used_arrivals: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in candidates:
        if i not in used_sends and j not in used_arrivals:
            used_sends.add(i)
            used_arrivals.add(j)
            pairs.append((i, j))
    return sorted(pairs)


@dataclass(frozen=True, slots=True)
class ClockGaps:
    """How far the client's timestamps sit from the server's, in wall seconds.

    `send_to_arrival`: server arrival minus client send, per matched attempt.
    `left_to_finished`: client finish minus the server's `left` (response
    handed over), for matched attempts the server logged a `left` for.
    `unmatched`: attempts with no arrival in the server's log.
    """

    send_to_arrival: list[float]
    left_to_finished: list[float]
    unmatched: int


def clock_gaps(run: RunRecord) -> ClockGaps:
    """Match one run's attempts to its server log and measure the gaps."""
    started = run.started
    sends = [started + a.sent for a in run.attempts]
    finished = [started + a.finished for a in run.attempts]
    log = run.server_log
    arrivals = [e.arrival for e in log]
    left = [e.left for e in log]
    pairs = match_arrivals(sends, arrivals, finished, left)
    to_arrival = [arrivals[j] - sends[i] for i, j in pairs]
    to_finished = [finished[i] - end for i, j in pairs if (end := log[j].left) is not None]
    return ClockGaps(to_arrival, to_finished, len(run.attempts) - len(pairs))
