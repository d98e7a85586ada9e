"""The runner keeps a run the server spoiled, as a failed record saying why."""

from __future__ import annotations

import pytest

import bench.running.runner
from bench.records.results import Machine
from bench.running.plan import BenchPlan, Job
from bench.running.runner import run_one
from mock_server.processes.server import ServerError

MACHINE = Machine("3.11", "test", 2, "host")


class DeadServer:
    """Stands in for a MockServer process that was killed."""

    def alive(self) -> bool:
        return False

    def died(self, grace: float = 1.0) -> bool:
        return True


def test_a_server_gone_before_the_run_is_a_failed_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def reset(*args: object, **kwargs: object) -> None:
        raise ServerError("connection reset by peer")

    def no_client(*args: object) -> None:
        raise AssertionError("the client must not run against a dead server")

    monkeypatch.setattr(bench.running.runner, "reset_server", reset)
    monkeypatch.setattr(bench.running.runner, "run_client", no_client)
    job = Job(0, 3, "token_bucket", 3)
    dead = run_one(BenchPlan(), job, "http://127.0.0.1:9", DeadServer(), MACHINE)  # type: ignore[arg-type]
    assert (dead.status, dead.reason) == ("failed", "the mock server died before the run")
    assert (dead.run, dead.attempts, dead.server_log) == (3, (), ())
    silent = run_one(BenchPlan(), job, "http://127.0.0.1:9", None, MACHINE)
    assert silent.reason == "the server did not answer before the run: connection reset by peer"
