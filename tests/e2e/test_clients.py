"""The three write-up clients against a real mock server, checked from the server's log.

Time scale 0.1: latencies 0.2-0.5 s, the limit 2 per 0.1 s, retry sleeps
0.3, 0.6, 1.2, 2.4 s. Each assertion is about counts and orderings that hold
with milliseconds of scheduling noise, so they hold on a busy machine too.
"""

from __future__ import annotations

from typing import Any

from clients import ClientConfig, ClientRun, run_client
from tests.helpers import StartServer, max_in_flight

SCALE = 0.1
WINDOW = 1.0 * SCALE  # the server's 2/second window, compressed

#: Seconds a wire stamp taken just after the write may trail the server's arrival.
STAMP_SLACK = 0.01


def run_against(
    start_server: StartServer, name: str, **knobs: Any
) -> tuple[ClientRun, list[dict[str, Any]]]:
    server = start_server(seed=1, time_scale=SCALE)
    run = run_client(name, ClientConfig(url=server.chat_url, time_scale=SCALE, **knobs))
    return run, server.log()


def test_every_attempt_reaches_the_server_and_none_is_lost(start_server: StartServer) -> None:
    for name in ("thread_pool", "naive_gather", "token_bucket"):
        run, log = run_against(start_server, name)
        assert run.completed == 10, name
        assert len(log) == len(run.attempts), name
        assert sum(not e["accepted"] for e in log) == run.rejections, name
        # The server's clock is the client's: nothing arrives before it was sent,
        # give or take the instant between the write and the client's stamp of it
        # (the aiohttp transport stamps just after writing; on a busy machine the
        # client can be preempted there for a few milliseconds).
        first_sent = min(a.sent for a in run.attempts)
        assert min(e["arrival"] for e in log) >= run.started + first_sent - STAMP_SLACK, name


def test_thread_pool_never_has_more_than_two_in_flight(start_server: StartServer) -> None:
    run, log = run_against(start_server, "thread_pool")
    assert all(e["left"] is not None for e in log)
    assert max_in_flight(log) == 2
    assert run.rejections == 0  # two at a time, each 2-5 s: never near 2 per second
    # Little's law: 10 requests of 2-5 s over 2 workers take at least 5 x 2 s.
    assert run.makespan >= 10 * 2 * SCALE / 2


def test_naive_gather_is_rejected_eight_times_then_twenty_in_all(start_server: StartServer) -> None:
    run, log = run_against(start_server, "naive_gather")
    first_round = log[:10]
    assert sum(not e["accepted"] for e in first_round) == 8
    # Each backoff step (3, 6, 12, 24 s) sends the losers back together:
    # 8 + 6 + 4 + 2 rejections, and 2 get through each time.
    assert sum(not e["accepted"] for e in log) == 20
    assert run.rejections == 20
    assert run.completed == 10
    assert sorted(a.attempt for a in run.attempts if a.outcome == "ok") == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
    ]


def test_token_bucket_sends_at_most_two_per_window_and_completes(start_server: StartServer) -> None:
    run, _log = run_against(start_server, "token_bucket")
    sends = sorted(a.sent for a in run.attempts)
    # Never more than capacity (2) sends in any window, as the client sees them
    # (1 ms of slack for the instant between the token grant and the reading).
    for i, t in enumerate(sends):
        assert sum(1 for s in sends[i:] if s < t + WINDOW - 0.001) <= 2
    # The bucket starts empty: the k-th send no earlier than k / rate.
    for k, t in enumerate(sends, start=1):
        assert t >= k * 0.5 * SCALE - 0.001
    assert run.completed == 10
    # No assertion of zero rejections: the bucket's third send comes exactly
    # one window after the first, and the server's window opened when the
    # first *arrived*; if the first took longer from send to arrival than the
    # third, the third lands inside that window and is rejected. The retry
    # then costs one backoff step (0.3 s here).
