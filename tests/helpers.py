"""Plain code the tests share; no fixtures (those live in the conftest files).

- running a CLI (`run_cli`, `just`) and judging its bad-input line;
- hitting a server (`fire`), reading its log (`ended_entry`, `max_in_flight`);
- a fake clock for limits' memory storage (`fake_limits_clock`);
- hand-made records: a /chat results folder (`hand_made_runs`, `write_results`)
  and an OpenAI-endpoint run over two windows (`two_windows`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.endpoints.registry import client_config
from bench.output.summary import write_summary
from bench.records.results import (
    Machine,
    RunLog,
    RunRecord,
    ServerEntry,
    TheoryRecord,
    write_theory,
)
from bench.records.scenario import Scenario
from clients.infra.records import Attempt, Outcome
from mock_server.processes.server import MockServer

ROOT = Path(__file__).resolve().parent.parent  # the repository

StartServer = Callable[..., MockServer]
BenchMain = Callable[..., tuple[int, str]]


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


def post_all(
    url: str,
    bodies: list[dict[str, Any]],
    offsets: list[float] | None = None,
    headers: dict[str, str] | None = None,
) -> list[int]:
    """POST every body concurrently (with `headers`), each `offsets[i]` seconds
    after the start; return the status codes in order."""
    offsets = offsets or [0.0] * len(bodies)

    async def main() -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(payload: dict[str, Any], delay: float) -> int:
                await asyncio.sleep(delay)
                async with session.post(url, json=payload, headers=headers) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(one(b, d) for b, d in zip(bodies, offsets, strict=True)))

    return asyncio.run(main())


@contextlib.contextmanager
def running(servers: dict[str, MockServer]) -> Iterator[dict[str, MockServer]]:
    """Start every server concurrently, and stop them all on exit.

    Each is started from a thread of its own, and that thread must outlive
    the server: a server asks to die with the thread that started it
    (PR_SET_PDEATHSIG follows the thread, not the process).
    """
    pool = ThreadPoolExecutor(len(servers))
    try:
        list(pool.map(MockServer.start, servers.values()))
        yield servers
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
        pool.shutdown()


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


def just(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("just")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("just is not on PATH: the README's commands install it with pip")
        pytest.skip("just is not installed here: python3 -m pip install rust-just")
    return subprocess.run(
        [exe, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


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


def max_in_flight(log: list[dict[str, Any]]) -> int:
    """Most requests the server was handling at once, from arrival to departure."""
    events = [(e["arrival"], 1) for e in log] + [(e["left"], -1) for e in log]
    in_flight = peak = 0
    for _, step in sorted(events):  # on a tie, a departure (-1) sorts first
        in_flight += step
        peak = max(peak, in_flight)
    return peak


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


# The write-up's three clients, first in the registry.
WRITE_UP_CLIENTS = ["thread_pool", "naive_gather", "token_bucket"]

# `python -m mock_server` flags under the OpenAI endpoint, each refused with a
# message naming this fragment.
BAD_OPENAI_FLAGS = [
    (["--rpm", "0"], "--rpm"),
    (["--tpm", "-5"], "--tpm"),
    (["--quantize", "fast"], "--quantize"),
    (["--quantize", "2m"], "at most a minute"),
    (["--quantize", "1s", "--rpm", "30"], "at least 2s"),
    (["--ttft", "0.8-0.2"], "--ttft"),
    (["--token-time", "-1"], "--token-time"),
    (["--default-max-tokens", "0"], "--default-max-tokens"),
]

# A token budget far above ten large charges: limits' moving window stored one
# entry per token of them.
BIG_TPM = 100_000_000
LARGE_CHARGE = 200_000  # tokens per request: 10 of them are 2 million units to limits


# A /chat results folder made by hand: two runs of three clients.

SCALE = 0.1
STARTED = 100.0  # raw monotonic seconds at the batch's start
SCENARIO = Scenario(n=4, time_scale=SCALE)
CONFIG = client_config(SCENARIO, "http://127.0.0.1:8000/chat")
MACHINE = Machine(python="3.11.7", platform="Linux-test", cpus=2, hostname="bench-host")


def attempt(
    request: int, number: int, queued: float, sent: float, finished: float, outcome: Outcome = "ok"
) -> Attempt:
    """One attempt; times in scenario seconds, stored as wall seconds like the bench."""
    return Attempt(
        request=request,
        attempt=number,
        queued=queued * SCALE,
        sent=sent * SCALE,
        finished=finished * SCALE,
        status=200 if outcome == "ok" else 429,
        outcome=outcome,
        limiter_wait=(sent - queued) * SCALE,
    )


def server_entry(seq: int, a: Attempt) -> ServerEntry:
    """What the server would have logged for attempt `a`: arrival 1 ms after the send."""
    arrival = STARTED + a.sent + 0.001
    ok = a.outcome == "ok"
    latency = a.finished - a.sent - 0.002
    return ServerEntry(
        seq=seq,
        arrival=arrival,
        accepted=ok,
        status=a.status,
        decided=arrival + 0.0001,
        wall=1.7e9 + arrival,
        window_reset=1.7e9 + arrival + 0.05,
        drawn=round(latency / SCALE) if ok else None,
        latency=latency if ok else None,
        left=STARTED + a.finished - 0.0005,
    )


def run_record(client: str, run: int, attempts: list[Attempt]) -> RunRecord:
    ordered = sorted(attempts, key=lambda a: a.sent)
    return RunRecord(
        client=client,
        run=run,
        seed=run,
        scenario=SCENARIO,
        config=CONFIG,
        overrides=(),
        machine=MACHINE,
        wall_start=1.7e9,
        started=STARTED,
        makespan=max(a.finished for a in attempts),
        attempts=tuple(attempts),
        server_log=tuple(server_entry(i, a) for i, a in enumerate(ordered)),
    )


def thread_pool(run: int) -> RunRecord:
    slow = 1.0 * run  # the second run is a little slower
    return run_record(
        "thread_pool",
        run,
        [
            attempt(0, 0, 0, 0.0, 3.0),
            attempt(1, 0, 0, 0.0, 4.0),
            attempt(2, 0, 0, 3.0, 6.0 + slow),
            attempt(3, 0, 0, 4.0, 8.0 + slow),
        ],
    )


def naive_gather(run: int) -> RunRecord:
    return run_record(
        "naive_gather",
        run,
        [
            attempt(0, 0, 0, 0.0, 3.0),
            attempt(1, 0, 0, 0.0, 2.0),
            attempt(2, 0, 0, 0.01, 0.05, "rate_limited"),
            attempt(3, 0, 0, 0.01, 0.05, "rate_limited"),
            attempt(2, 1, 3.05, 3.05, 6.0),
            attempt(3, 1, 3.05, 3.06, 3.1, "rate_limited"),
            attempt(3, 2, 9.1, 9.1, 12.0 + run),
        ],
    )


def token_bucket(run: int) -> RunRecord:
    return run_record(
        "token_bucket",
        run,
        [attempt(i, 0, 0, 0.5 * (i + 1), 0.5 * (i + 1) + 3 + run * 0.5) for i in range(4)],
    )


def hand_made_runs() -> list[RunRecord]:
    """Two runs of three clients, and a third run of one that failed."""
    runs = [make(r) for r in range(2) for make in (thread_pool, naive_gather, token_bucket)]
    runs.append(replace(token_bucket(2), status="failed", reason="server died mid-run"))
    return runs


def write_results(run_dir: Path, runs: list[RunRecord], theory: TheoryRecord | None) -> Path:
    log = RunLog(run_dir / "runs.jsonl")
    for record in runs:
        log.append(record)
    if theory is not None:
        write_theory(run_dir, theory)
    write_summary(run_dir, runs, theory)
    return run_dir


# An OpenAI-endpoint run made by hand, over two of its minute windows.

OPENAI_SCENARIO = Scenario(n=4, time_scale=SCALE, api="openai", rpm=2, tpm=100)
OPENAI_CONFIG = client_config(OPENAI_SCENARIO, "http://127.0.0.1:8000/v1/chat/completions")
WALL = 1.7e9  # time.time() at the batch's start
WINDOW = 60 * SCALE  # a minute, in wall seconds


def openai_entry(seq: int, a: Attempt, charge: int, opened: float | None) -> ServerEntry:
    """What the endpoint logs: an admitted request stamped with the end of the window
    that counted it (`opened` + a minute, wall seconds from the start); a refusal
    counted in none."""
    arrival = STARTED + a.sent + 0.001
    ok = a.outcome == "ok"
    return ServerEntry(
        seq=seq,
        arrival=arrival,
        accepted=ok,
        status=a.status,
        decided=arrival,
        wall=WALL + a.sent + 0.001,
        window_reset=None if opened is None else WALL + opened + WINDOW,
        left=STARTED + a.finished if ok else None,
        tokens_charged=charge if ok else 0,
    )


def two_windows() -> RunRecord:
    """Two admitted and one refused in the first minute; the refused one and the
    last request in the second."""
    plan = [
        (attempt(0, 0, 0, 0.0, 3.0), 40, 0.0),
        (attempt(1, 0, 0, 0.0, 2.0), 50, 0.0),
        (attempt(2, 0, 0, 0.0, 0.1, "rate_limited"), 30, None),
        (attempt(2, 1, 0, 60.0, 63.0), 30, 60.0 * SCALE),
        (attempt(3, 0, 0, 61.0, 65.0), 60, 60.0 * SCALE),
    ]
    log = tuple(
        openai_entry(i, a, charge, None if at is None else at + 0.001)
        for i, (a, charge, at) in enumerate(plan)
    )
    attempts = tuple(a for a, _, _ in plan)
    return RunRecord(
        client="budget_window",
        run=0,
        seed=0,
        scenario=OPENAI_SCENARIO,
        config=OPENAI_CONFIG,
        overrides=(),
        machine=MACHINE,
        wall_start=WALL,
        started=STARTED,
        makespan=max(a.finished for a in attempts),
        attempts=attempts,
        server_log=log,
    )
