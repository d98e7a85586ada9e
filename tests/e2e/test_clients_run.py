"""Whole client runs against sockets that misbehave: nothing lost, nothing hangs."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import pytest

from clients import ClientConfig, run_client
from tests.helpers import WRITE_UP_CLIENTS


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts TCP connections (the kernel does) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/chat"


@pytest.fixture
def refused_url() -> str:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/chat"


@pytest.mark.parametrize("name", WRITE_UP_CLIENTS)
def test_deadline_ends_a_run_against_a_silent_server(name: str, silent_url: str) -> None:
    config = ClientConfig(url=silent_url, deadline=0.6, request_timeout=60.0)
    lines: list[str] = []
    began = time.monotonic()
    run = run_client(name, config, lines.append)
    assert time.monotonic() - began < 3.0
    assert run.completed == 0
    assert run.failed == 10
    assert run.attempts, "attempts on the wire at the deadline must still be recorded"
    assert {a.outcome for a in run.attempts} == {"timeout"}
    assert all(a.finished <= 0.6 + 0.5 for a in run.attempts)
    assert "Deadline reached, 10 requests unfinished" in lines[-2]
    assert lines[-1].endswith("Finish All Tasks ===")


@pytest.mark.parametrize("name", WRITE_UP_CLIENTS)
def test_request_timeout_bounds_each_attempt(name: str, silent_url: str) -> None:
    config = ClientConfig(
        url=silent_url, n=2, retry="none", request_timeout=0.3, rate=1000.0, deadline=60.0
    )
    run = run_client(name, config)
    assert [a.outcome for a in run.attempts] == ["timeout", "timeout"]
    assert all(0.25 <= a.finished - a.sent < 2.0 for a in run.attempts)


@pytest.mark.parametrize("name", WRITE_UP_CLIENTS)
def test_refused_connections_are_errors_retried_per_policy(name: str, refused_url: str) -> None:
    # A refusal is immediate; the attempt's bound (3.6 s wall) is only there so a
    # busy machine cannot turn one into a timeout (the default's 60 ms did, once).
    config = ClientConfig(url=refused_url, n=3, time_scale=0.001, rate=2.0, request_timeout=3600.0)
    run = run_client(name, config)
    assert run.failed == 3
    assert len(run.attempts) == 3 * 5
    assert {(a.status, a.outcome) for a in run.attempts} == {(None, "error")}
    # Retries follow the schedule: 3, 6, 12, 24 scenario seconds (x 0.001).
    first = [a.sent for a in run.attempts if a.request == 0]
    gaps = [b - a for a, b in itertools.pairwise(first)]
    assert all(gap >= want * 0.001 for gap, want in zip(gaps, [3, 6, 12, 24], strict=True))
