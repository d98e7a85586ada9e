"""The pytest plugin: `ratebench_server`, a real rate-limited server per test.

Registered by the package's `pytest11` entry point, so that installing
ratebench is all a project does to use it::

    def test_batch_stays_under_the_limit(ratebench_server):
        server = ratebench_server(limits={"rpm": 60}, time_scale=0.05)
        run_my_batch()  # its SDK reads server.env, set for the test
        server.server_log().assert_no_limit_broken()

Each call starts one server process (see `ratebench.testing.TestServer`
for the arguments), sets the environment every SDK reads (`server.env`:
OPENAI_BASE_URL, OPENAI_API_KEY, ...) for the rest of the test, and stops
the server when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ratebench.testing import TestServer

StartServer = Callable[..., TestServer]


@pytest.fixture
def ratebench_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StartServer]:
    """Start a ratebench server: `ratebench_server(limits=..., latency=...,
    seed=..., time_scale=..., keys=..., args=...)`; every one started is
    stopped at teardown."""
    started: list[TestServer] = []

    def start(**kwargs: Any) -> TestServer:
        server = TestServer(**kwargs)
        started.append(server)
        server.__enter__()
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)
