"""The matrix clients and the two library clients, against a real mock server.

Time scale 0.1 (0.2 where a client's behaviour depends on a send landing
well inside a window): latencies 0.2-0.5 s, the limit 2 per 0.1 s. Every
check is on the server's own log or on orderings with milliseconds of
slack, so it holds on a busy machine; no client that can race a window's
edge is asserted to get zero 429s.
"""

from __future__ import annotations

import itertools
from typing import Any

from clients import ClientConfig, ClientRun, run_client
from clients.infra.records import Attempt
from tests.helpers import StartServer, max_in_flight

SCALE = 0.1
WINDOW = 1.0 * SCALE


def run_against(
    start_server: StartServer, name: str, scale: float = SCALE, **knobs: Any
) -> tuple[ClientRun, list[dict[str, Any]]]:
    server = start_server(seed=1, time_scale=scale)
    run = run_client(name, ClientConfig(url=server.chat_url, time_scale=scale, **knobs))
    log = server.log()
    assert len(log) == len(run.attempts), name  # every attempt reached the server, none lost
    assert sum(e["accepted"] is False for e in log) == run.rejections, name
    return run, log


def granted(a: Attempt) -> float:
    """About when the client's limiter let attempt `a` go: `a.sent` is when the
    request reached the wire, after `a.pool_wait` for a connection."""
    return a.sent - a.pool_wait


def first_sends(run: ClientRun) -> list[float]:
    """When the limiter let each request's first attempt go, in order."""
    return sorted(granted(a) for a in run.attempts if a.attempt == 0)


def test_threads_bucket_keeps_the_bucket_pace_with_more_than_two_in_flight(
    start_server: StartServer,
) -> None:
    run, log = run_against(start_server, "threads_bucket")
    assert run.completed == 10
    sends = sorted(granted(a) for a in run.attempts)
    # Never more than capacity (2) grants in any window, as the client sees
    # them (1 ms of slack between the token grant and the clock reading).
    for i, t in enumerate(sends):
        assert sum(1 for s in sends[i:] if s < t + WINDOW - 0.001) <= 2
    # The bucket starts empty: the k-th send no earlier than k / rate.
    for k, t in enumerate(sends, start=1):
        assert t >= k * 0.5 * SCALE - 0.001
    # One thread per request: the bucket, not a pool of 2, is the limit.
    # A send every 0.05 s and latencies of at least 0.2 s put 3 or more in flight.
    assert max_in_flight(log) >= 3


def test_async_semaphore_never_has_more_than_two_in_flight(start_server: StartServer) -> None:
    run, log = run_against(start_server, "async_semaphore")
    assert run.completed == 10
    assert all(e["left"] is not None for e in log)
    assert max_in_flight(log) == 2
    # Two at a time, each 2-5 s: two sends can share a window, never three.
    assert run.rejections == 0
    # Little's law: 10 requests of 2-5 s, 2 at a time, take at least 5 x 2 s.
    assert run.makespan >= 10 * 2 * SCALE / 2
    assert max(a.limiter_wait for a in run.attempts) >= 2 * SCALE - 0.01  # queued behind a slot


def test_threads_unbounded_is_rejected_eight_times_at_first(start_server: StartServer) -> None:
    # Retry sleeps of 0.1, 0.2, 0.4, 0.8 s: still whole windows apart, but a short test.
    run, log = run_against(start_server, "threads_unbounded", first_sleep=1.0)
    first = log[:10]
    # A thread per request: all ten arrive before any answer comes back...
    assert max(e["arrival"] for e in first) < min(e["left"] for e in first if e["accepted"])
    # ...so the window takes 2 and rejects 8, as for naive_gather.
    assert sum(not e["accepted"] for e in first) == 8
    assert run.completed == 10
    assert run.rejections >= 8


def test_aiolimiter_bursts_two_then_its_third_send_is_rejected(start_server: StartServer) -> None:
    scale = 0.2  # the third send lands 100 ms into a 200 ms window: far from either edge
    run, log = run_against(start_server, "aiolimiter", scale=scale)
    assert run.completed == 10
    sends = first_sends(run)
    # AsyncLimiter(2, 1) starts with room for 2: a burst at t = 0, then one
    # every 0.5 s as the level leaks, counted from the burst (a grant that a
    # busy machine wakes late does not push the next one back).
    assert sends[1] < 0.1 * scale
    for k, t in enumerate(sends[2:], start=1):
        assert t - sends[0] >= k * 0.5 * scale - 0.005
    # The fixed window opened at the first hit; the burst filled it and the
    # third send, half a window later, is the window's third hit.
    by_arrival = sorted(log, key=lambda e: e["arrival"])
    assert [e["accepted"] for e in by_arrival[:3]] == [True, True, False]
    assert run.rejections >= 1


def test_aiometer_spaces_the_starts_and_completes(start_server: StartServer) -> None:
    run, log = run_against(start_server, "aiometer")
    assert run.completed == 10
    sends = first_sends(run)
    # No burst, but no wait for the first either: well inside the 0.5 s spacing (a
    # busy machine has started the first job 14 ms of wall time late, at scale 0.1).
    assert sends[0] < 0.25 * SCALE
    # max_per_second=2: one job start every 0.5 s, counted from the batch's
    # start (a job that a busy machine starts late does not delay the next).
    for k, t in enumerate(sends):
        assert t >= k * 0.5 * SCALE - 0.002
    # The wait before each job started is recorded as its limiter wait.
    waits = sorted(a.limiter_wait for a in run.attempts if a.attempt == 0)
    assert waits[-1] >= 4.5 * SCALE - 0.01
    # Retries are not metered: a retry's send is its own business.
    assert sum(e["accepted"] for e in log) == 10


def test_adaptive_retries_the_moment_the_window_reopens(start_server: StartServer) -> None:
    run, log = run_against(start_server, "adaptive")
    assert run.completed == 10
    first = log[:10]
    assert sum(not e["accepted"] for e in first) == 8  # greedy: everything at t = 0
    # Group the server's decisions by window (each window has its own reset time).
    windows: dict[float, list[dict[str, Any]]] = {}
    for e in sorted(log, key=lambda e: e["wall"]):
        windows.setdefault(round(e["window_reset"], 4), []).append(e)
    resets = sorted(windows)
    assert [sum(e["accepted"] for e in windows[r]) for r in resets] == [2, 2, 2, 2, 2]
    for previous, following in itertools.pairwise(resets):
        reopened = windows[following][0]["wall"] - previous
        # After the window that rejected them reopened (else they would have
        # been counted in it), and within a fraction of a window of it: not a
        # fixed backoff of 3, 6, 12 s (0.3, 0.6, 1.2 s here).
        assert 0 <= reopened < 0.5 * WINDOW
    # Each rejected wave went back together: the last pair needed all 5 attempts.
    assert max(a.attempt for a in run.attempts) == 4
    assert run.makespan < 6 * WINDOW + 5 * SCALE  # 4 windows to the last pair + its latency


def test_the_deadline_stops_aiometer_jobs_and_records_what_was_on_the_wire(
    start_server: StartServer,
) -> None:
    # aiometer runs the jobs in an anyio task group: the run's deadline must
    # still cancel them all and keep the attempts that were in flight.
    server = start_server(seed=1, time_scale=SCALE)
    config = ClientConfig(url=server.chat_url, time_scale=SCALE, deadline=1.0)
    run = run_client("aiometer", config)
    assert run.completed == 0  # nothing answers within 1 s: latencies are 2-5 s
    assert run.failed == 10
    assert any(a.outcome == "timeout" for a in run.attempts)
    assert run.makespan < 1.0 * SCALE + 0.5
