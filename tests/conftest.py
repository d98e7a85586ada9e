"""Fixtures for both folders: the bench's CLI run in this process, and a results
folder made by hand. Fixtures that start servers are in tests/e2e/conftest.py;
plain code the tests share is in tests/helpers.py."""

from __future__ import annotations

import io
import signal
import sys
from pathlib import Path

import pytest

from bench.records.results import RunLog
from tests.helpers import BenchMain, naive_gather, thread_pool


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
