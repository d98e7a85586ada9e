"""The bench driver: one mock server, every client, interleaved runs.

Runs go A B C A B C ... so that a slow patch of a busy machine hits every
client alike; before each run the server is reset (fresh window, empty log)
and reseeded, so that run i of every client faces the same latency draws.
Each finished run is appended to `runs.jsonl` at once.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from bench.results import RUN_SCHEMA, RunLog
from clients import run_client
from clients.config import ClientConfig, RetryName, ServerStrategy
from clients.infra.records import Attempt
from mock_server.process import MockServer, ServerError, fetch_log, reset_server


@dataclass(frozen=True, slots=True)
class BenchSettings:
    """A whole comparison. Durations in scenario seconds (time scale 1)."""

    clients: tuple[str, ...] = ("thread_pool", "naive_gather", "token_bucket")
    runs: int = 10
    n: int = 10
    time_scale: float = 1.0
    seed: int = 0
    retry: RetryName = "exponential"
    rate: str = "2/second"
    strategy: str = "fixed-window"
    latency: str = "2-5"
    url: str | None = None
    deadline: float = 600.0
    error_rate: float = 0.0
    error_kind: str = "500"
    stall_after: int | None = None

    def client_config(self, chat_url: str) -> ClientConfig:
        return ClientConfig(
            url=chat_url,
            n=self.n,
            retry=self.retry,
            time_scale=self.time_scale,
            deadline=self.deadline,
            # Clients that follow the server's rule are told which it is, as an
            # API's documentation would say; ClientConfig checks the name.
            server_strategy=cast(ServerStrategy, self.strategy),
        )

    def scenario(self) -> dict[str, Any]:
        data = asdict(self)
        data["clients"] = list(self.clients)
        return data


@dataclass(frozen=True, slots=True)
class Job:
    """One run of one client: the unit of progress."""

    index: int  # position in the whole bench
    run: int  # run number of this client
    client: str
    seed: int


def schedule(settings: BenchSettings) -> list[Job]:
    """Interleaved: run 0 of every client, then run 1 of every client, ..."""
    jobs: list[Job] = []
    for run in range(settings.runs):
        for client in settings.clients:
            jobs.append(Job(len(jobs), run, client, settings.seed + run))
    return jobs


class BenchAborted(RuntimeError):
    """The bench cannot go on (the server died); finished runs are kept."""


@contextlib.contextmanager
def server_for(settings: BenchSettings) -> Iterator[tuple[str, MockServer | None]]:
    """The base URL of a mock server: a fresh process, or `--url`'s after a check."""
    if settings.url is not None:
        yield check_url(settings.url), None
        return
    faults: tuple[str, ...] = (
        "--error-rate",
        repr(settings.error_rate),
        "--error-kind",
        settings.error_kind,
    )
    if settings.stall_after is not None:
        faults += ("--stall-after", str(settings.stall_after))
    server = MockServer(
        rate=settings.rate,
        strategy=settings.strategy,
        latency=settings.latency,
        seed=settings.seed,
        time_scale=settings.time_scale,
        extra_args=faults,
    )
    with server:
        yield server.url, server


def check_url(url: str) -> str:
    """The base URL of the ratebench mock server at `url`, or one clear ServerError."""
    base = url.rstrip("/").removesuffix("/chat")
    try:
        fetch_log(base, timeout=5.0)
    except ServerError:
        raise ServerError(
            f"no ratebench mock server answers at {url}: start one with "
            "`python -m mock_server`, or leave out --url to let the bench start its own"
        ) from None
    return base


def run_one(
    settings: BenchSettings, job: Job, base: str, server: MockServer | None
) -> dict[str, Any]:
    """Reset the server, run the client, and join its attempts with the server's log."""
    reset_server(base, seed=job.seed)
    config = settings.client_config(f"{base}/chat")
    wall_start = time.time()
    result = run_client(job.client, config)
    record: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "client": job.client,
        "run": job.run,
        "seed": job.seed,
        "time_scale": settings.time_scale,
        "scenario": settings.scenario(),
        "wall_start": wall_start,
        **result.to_dict(),
        "status": "ok",
        "reason": None,
    }
    try:
        log = fetch_log(base)
    except ServerError as exc:
        alive = server.alive() if server is not None else False
        record["status"] = "failed"
        record["reason"] = (
            "the mock server died during the run"
            if server is not None and not alive
            else f"the server's log could not be read: {exc}"
        )
        record["server_log"] = []
        return record
    record["server_log"] = log["entries"]
    record["server_settings"] = log["settings"]
    reason = fault_reason(result.attempts)
    if reason is not None:
        record["status"] = "failed"
        record["reason"] = reason
    return record


def describe_fault(attempt: Attempt) -> str:
    if attempt.status == 200:
        return "HTTP 200 with a body that is not the answer"
    if attempt.status is not None:
        return f"HTTP {attempt.status}"
    return "timeout" if attempt.outcome == "timeout" else "no HTTP answer"


def fault_reason(attempts: tuple[Attempt, ...]) -> str | None:
    """Why a run cannot be trusted as a measurement of the client, or None.

    429s are the subject, not a fault. Anything else (a 500, a body that is
    not the answer, a connection refused, an attempt that never came back)
    means the server misbehaved, and the run must not be averaged in.
    """
    faults = Counter(describe_fault(a) for a in attempts if a.outcome in ("error", "timeout"))
    if not faults:
        return None
    listed = ", ".join(f"{count} × {what}" for what, count in faults.most_common())
    return f"the server misbehaved: {listed} (attempts that were neither ok nor 429)"


def run_bench(
    settings: BenchSettings,
    run_dir: Path,
    on_start: Callable[[Job], None] = lambda job: None,
    on_done: Callable[[Job, dict[str, Any]], None] = lambda job, rec: None,
) -> list[dict[str, Any]]:
    """Run every job in order, appending each record to `run_dir/runs.jsonl`.

    Returns the records. A run the server spoiled is recorded as failed, with
    its reason, and the bench goes on; if the server died, BenchAborted is
    raised after the failed run is recorded. KeyboardInterrupt propagates
    after the server is stopped, with every finished run already on disk.
    """
    log = RunLog(run_dir / "runs.jsonl")
    records: list[dict[str, Any]] = []
    with server_for(settings) as (base, server):
        for job in schedule(settings):
            on_start(job)
            record = run_one(settings, job, base, server)
            log.append(record)
            records.append(record)
            on_done(job, record)
            if server is not None and not server.alive():
                raise BenchAborted(f"run {job.run} of {job.client} failed: {record['reason']}")
    return records
