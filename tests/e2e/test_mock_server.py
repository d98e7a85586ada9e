"""The mock server, checked from its own log while a real process is under load."""

from __future__ import annotations

import itertools
import math
import random
import socket
from collections import Counter
from typing import Any

import pytest

from mock_server.vocabulary import WINDOW_STRATEGIES
from tests.helpers import StartServer, assert_one_line_error, fire, run_cli

SCALE = 0.2  # the limit's window is 0.2 s, latencies 0.4-1.0 s
WINDOW = 1.0 * SCALE
LIMIT = 2
# How far the log's decision stamp may sit from the limiter's own clock
# reading: they are taken in the same event-loop step, microseconds apart.
TOL = 0.002


def accepted(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["accepted"]]


def check_fixed_window(log: list[dict[str, Any]]) -> None:
    """Every window opens at its first hit, lasts WINDOW, holds at most LIMIT
    accepted requests, and no request was decided outside its window.

    Each decision is known to lie in [wall, wall_after], as the server's spy
    stamped it just before and just after the limiter's own clock reading.
    """
    windows: dict[float, list[dict[str, Any]]] = {}
    for entry in sorted(log, key=lambda e: e["wall"]):
        reset = entry["window_reset"]
        if not entry["accepted"] and reset <= entry["wall_after"] + TOL and windows:
            # Counted in a window that expired between the decision and the
            # spy reading it back: it belongs to the window then ending.
            reset = min(windows, key=lambda r: abs(r - entry["wall"]))
        windows.setdefault(reset, []).append(entry)
    resets = sorted(windows)
    for reset in resets:
        members = windows[reset]
        opened = reset - WINDOW
        assert sum(e["accepted"] for e in members) <= LIMIT, members
        first = min(members, key=lambda e: e["wall"])
        assert first["wall"] - TOL <= opened <= first["wall_after"] + TOL, (
            "window did not open at its first hit"
        )
        for e in members:
            assert e["wall"] <= reset + TOL
            assert e["wall_after"] >= opened - TOL
    for earlier, later in itertools.pairwise(resets):
        assert later - earlier >= WINDOW - TOL, "windows overlap"


def check_moving_window(log: list[dict[str, Any]]) -> None:
    """Any LIMIT + 1 accepted requests span at least one window."""
    hits = sorted(accepted(log), key=lambda e: e["wall"])
    for i in range(len(hits) - LIMIT):
        span = hits[i + LIMIT]["wall_after"] - hits[i]["wall"]
        assert span >= WINDOW - TOL, hits[i : i + LIMIT + 1]


def check_sliding_window_counter(log: list[dict[str, Any]]) -> int:
    """Within each window aligned on the clock, at most LIMIT accepted; a
    request whose decision could fall on either side of an edge is left out.

    A burst's few accepted requests can all sit at an edge (the burst then
    spans two windows), so this may place none of them; the spread-out half
    of the test, with many more accepted, checks that it placed some.
    Returns how many accepted requests it placed."""
    counts: Counter[int] = Counter()
    for e in accepted(log):
        index = math.floor((e["wall"] - TOL) / WINDOW)
        if index == math.floor((e["wall_after"] + TOL) / WINDOW):
            counts[index] += 1
    assert max(counts.values(), default=0) <= LIMIT, counts
    return counts.total()


CHECKS = {
    "fixed-window": check_fixed_window,
    "moving-window": check_moving_window,
    "sliding-window-counter": check_sliding_window_counter,
}


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_limit_holds_under_fifty_simultaneous_requests(
    start_server: StartServer, strategy: str
) -> None:
    server = start_server(strategy=strategy, seed=1, time_scale=SCALE)
    statuses = fire(server.chat_url, [0.0] * 50)
    log = server.log()
    assert len(log) == 50
    assert Counter(statuses) == Counter(e["status"] for e in log)
    assert 1 <= len(accepted(log)) <= 2 * LIMIT  # one burst touches at most two windows
    CHECKS[strategy](log)

    # The same 50, spread over five windows, so that windows open and close
    # while requests keep arriving.
    server.reset()
    rng = random.Random(3)
    spread = [rng.uniform(0, 5 * WINDOW) for _ in range(50)]
    fire(server.chat_url, spread)
    log = server.log()
    assert len(log) == 50
    assert len(accepted(log)) >= 3
    placed = CHECKS[strategy](log)
    assert placed is None or placed > 0, "no accepted request could be placed in a window"


def test_latency_is_drawn_for_accepted_requests_only_and_seed_repeats_it(
    start_server: StartServer,
) -> None:
    server = start_server(seed=7, time_scale=SCALE)
    offsets = [i * WINDOW * 1.05 / 2 for i in range(12)]  # 2 per window: all accepted

    def drawn_sequence() -> list[float]:
        fire(server.chat_url, offsets)
        log = server.log()
        for e in log:
            if e["accepted"]:
                assert e["drawn"] in {2, 3, 4, 5}
                assert e["latency"] == pytest.approx(e["drawn"] * SCALE)
                assert e["left"] - e["decided"] >= e["latency"] - TOL
            else:
                assert e["drawn"] is None
                assert e["latency"] is None
        return [e["drawn"] for e in log if e["accepted"]]

    # The k-th accepted request gets the k-th draw, so a send that a busy
    # machine delays into a full window only shortens the sequence: compare
    # the draws both runs got to.
    def common(a: list[float], b: list[float]) -> tuple[list[float], list[float]]:
        m = min(len(a), len(b))
        assert m >= 8
        return a[:m], b[:m]

    first = drawn_sequence()
    server.reset()
    again, first_again = common(drawn_sequence(), first)
    assert again == first_again
    server.reset(seed=8)
    other, first_other = common(drawn_sequence(), first)
    assert other != first_other


def test_reset_clears_the_log_and_opens_a_fresh_window(start_server: StartServer) -> None:
    # A long window (20 s at scale 1), so that only /reset can reopen it.
    server = start_server(rate="2/20 seconds", latency="0", seed=1)
    assert fire(server.chat_url, [0, 0, 0]).count(200) == 2
    assert fire(server.chat_url, [0]) == [429]
    assert len(server.log()) == 4
    server.reset()
    assert server.log() == []
    assert fire(server.chat_url, [0, 0, 0]).count(200) == 2


def test_rejections_carry_retry_headers(start_server: StartServer) -> None:
    import requests

    server = start_server(latency="0", seed=1, time_scale=SCALE)
    responses = [requests.get(server.chat_url, timeout=10) for _ in range(3)]
    assert [r.status_code for r in responses[:2]] == [200, 200]
    rejected = responses[2]
    assert rejected.status_code == 429
    assert rejected.headers["X-RateLimit-Limit"] == "2"
    assert rejected.headers["X-RateLimit-Remaining"] == "0"
    assert int(rejected.headers["Retry-After"]) >= 0
    assert "X-RateLimit-Reset" in rejected.headers
    assert 0 <= float(rejected.headers["X-RateLimit-Reset-After"]) <= WINDOW + TOL
    assert responses[0].json() == "hello world"


def test_server_says_where_it_listens_and_binds_loopback(start_server: StartServer) -> None:
    server = start_server(time_scale=SCALE)
    assert server.url.startswith("http://127.0.0.1:")
    assert "listening on http://127.0.0.1:" in server.output()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rate", "2/sec0nd"], "rate"),
        (["--rate", "0/second"], "rate"),
        (["--latency", "5-2"], "inverted"),
        (["--latency", "fast"], "latency"),
        (["--time-scale", "-1"], "time scale"),
        (["--time-scale", "0"], "time scale"),
        (["--strategy", "leaky-bucket"], "strategy"),
        (["--port", "70000"], "port"),
        (["--error-rate", "2"], "error-rate"),
        (["--seed", "abc"], "seed"),
    ],
)
def test_bad_flags_are_one_clear_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(run_cli("mock_server", *args), fragment)


def test_taken_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("mock_server", "--port", str(port))
    assert_one_line_error(result, "already in use", str(port))


def test_help_explains_the_defaults() -> None:
    result = run_cli("mock_server", "--help")
    assert result.returncode == 0
    for fragment in ("2/second", "fixed-window", "2-5", "127.0.0.1", "/log", "/reset"):
        assert fragment in result.stdout


def test_listening_socket_is_tcp_so_asyncio_disables_nagle() -> None:
    # asyncio turns on TCP_NODELAY only for sockets whose proto is TCP; with
    # proto 0, some responses stalled 40 ms on Nagle + delayed ACK.
    from mock_server.cli import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
