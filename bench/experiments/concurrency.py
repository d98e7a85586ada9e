"""Threads vs asyncio at scale: the write-up's real trade-off, measured.

For each level F of requests in flight, every client runs the same policy
against the same server: a limit of F requests per second and a fixed
latency of 1 s, so that a client that keeps the limit has about F requests
on the wire; a batch of `2 F` requests is two seconds of sends. Each client
runs as a process of its own (`python -m clients NAME --json FILE`), so that
its memory and CPU are its own and nothing of the bench's:

- `peak_rss_mb`: the client process's peak resident memory (`wait4`'s rusage).
- `cpu_ms_per_request`: its user + system CPU per request, less what the same
  process spends starting up and sending one request (`start_up_cpu`).
- `send_error_ms_p50/p99`: wall ms from the client's `sent` stamp to the
  server's limiter decision (matched to the server's log): how late a send
  the client believes it made reaches the limiter. A pacing client needs
  this smaller than its margin.
- `rejections`: 429s in the server's log: the limit broken.
- `over_bound`: makespan ÷ the best any client could do on the server's draws.

Above `WALL_RATE` sends per wall second a single server process and a client
sharing two cores measure each other; the time scale stretches the scenario
so that the wall rate stays there while F requests are still in flight.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import clients
from bench.records.matching import match_arrivals
from bench.records.results import server_entries
from bench.records.stats import in_flight_levels, percentile
from bench.records.windows import bound_makespan
from clients.infra.records import ClientRun
from mock_server.processes.server import MockServer, fetch_log, reset_server

LEVELS = (10, 100, 1000, 5000)
CLIENTS = ("threads_fifo", "fifo_bucket")
#: Sends per wall second the bench asks of one server and one client.
WALL_RATE = 200.0
LATENCY = 1  # scenario seconds, fixed: F in flight at F per second


@dataclass(frozen=True, slots=True)
class Point:
    """One client at one level of requests in flight."""

    client: str
    in_flight: int
    n: int
    time_scale: float
    ok: bool
    reason: str | None
    makespan: float | None = None  # scenario seconds
    over_bound: float | None = None
    peak_rss_mb: float | None = None
    cpu_ms_per_request: float | None = None
    send_error_ms_p50: float | None = None
    send_error_ms_p99: float | None = None
    rejections: int | None = None
    peak_in_flight: int | None = None


def time_scale_for(in_flight: int) -> float:
    """Stretch time so that `in_flight` per second is at most WALL_RATE per wall second."""
    return max(1.0, in_flight / WALL_RATE)


def measure_process(argv: Sequence[str]) -> tuple[int, float, float, str]:
    """Run `argv` to its end; (exit status, CPU seconds, peak RSS MB, stderr tail).

    The rusage is that one child's, from `os.wait4`, so nothing else running
    (the server, the bench) is counted.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, cpu, usage.ru_maxrss / 1024, " | ".join(tail)


def _client_argv(
    client: str, url: str, n: int, in_flight: int, scale: float, out: Path
) -> list[str]:
    return [
        sys.executable,
        "-m",
        clients.__name__,
        client,
        "--url",
        f"{url}/chat",
        "-n",
        str(n),
        "--rate",
        str(in_flight),
        "--capacity",
        str(in_flight),
        "--workers",
        str(in_flight),
        "--time-scale",
        repr(scale),
        "--deadline",
        "120",
        "--json",
        str(out),
    ]


def start_up_cpu(client: str) -> float:
    """CPU seconds `client`'s process spends on anything but its batch: start-up,
    imports and one request against a fast server. Subtracted from each level's."""
    with (
        MockServer(rate="100/second", latency="0-0", time_scale=0.01) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        argv = _client_argv(client, server.url, 1, 100, 0.01, Path(tmp) / "run.json")
        _, cpu, _, _ = measure_process(argv)
    return cpu


def measure(
    client: str,
    in_flight: int,
    server: MockServer,
    start_up: float = 0.0,
    seed: int = 0,
) -> Point:
    """Run `client` once at `in_flight` requests in flight against `server`;
    `start_up`: CPU seconds of its process that are not the batch's."""
    scale = server.time_scale
    n = 2 * in_flight
    reset_server(server.url, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        argv = _client_argv(client, server.url, n, in_flight, scale, out)
        status, cpu, rss, tail = measure_process(argv)
        if status != 0 or not out.is_file():
            return Point(client, in_flight, n, scale, False, f"exit {status}: {tail}")
        run = ClientRun.from_dict(json.loads(out.read_text()))
    cpu = max(0.0, cpu - start_up)
    log = server_entries(fetch_log(server.url)["entries"])
    if run.failed:
        return Point(client, in_flight, n, scale, False, f"{run.failed} requests never succeeded")
    sends = [run.started + a.sent for a in run.attempts]
    arrivals = [e.arrival for e in log]
    pairs = match_arrivals(sends, arrivals)
    errors = [
        (decided - sends[i]) * 1e3 for i, j in pairs if (decided := log[j].decided) is not None
    ]
    makespan = run.makespan / scale
    bound = bound_makespan(log, in_flight, 1.0)
    return Point(
        client=client,
        in_flight=in_flight,
        n=n,
        time_scale=scale,
        ok=True,
        reason=None,
        makespan=makespan,
        over_bound=makespan / bound if bound else None,
        peak_rss_mb=rss,
        cpu_ms_per_request=cpu / n * 1e3,
        send_error_ms_p50=statistics.median(errors) if errors else None,
        send_error_ms_p99=percentile(errors, 99) if errors else None,
        rejections=sum(1 for e in log if e.accepted is False),
        peak_in_flight=max((level for _, level in in_flight_levels(run.attempts)), default=0),
    )


def run_levels(
    levels: Sequence[int],
    clients: Sequence[str],
    on_point: Callable[[Point], None] = lambda p: None,
) -> list[Point]:
    """Every client at every level, one fresh server per level."""
    start_up = {client: start_up_cpu(client) for client in clients}
    points: list[Point] = []
    for level in levels:
        scale = time_scale_for(level)
        with MockServer(
            rate=f"{level}/second", latency=f"{LATENCY}-{LATENCY}", time_scale=scale
        ) as server:
            for client in clients:
                point = measure(client, level, server, start_up[client])
                points.append(point)
                on_point(point)
    return points


def _cell(value: float | int | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def format_table(points: Sequence[Point]) -> str:
    """The Markdown table of `points`, one row per client and level."""
    lines = [
        "| in flight | client | peak RSS (MB) | CPU per request (ms) | send → decision "
        "p50 / p99 (ms) | 429s | makespan ÷ bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in points:
        if not p.ok:
            lines.append(f"| {p.in_flight} | `{p.client}` | failed: {p.reason} | | | | |")
            continue
        lines.append(
            f"| {p.in_flight} | `{p.client}` | {_cell(p.peak_rss_mb, '.0f')} | "
            f"{_cell(p.cpu_ms_per_request, '.2f')} | {_cell(p.send_error_ms_p50, '.1f')} / "
            f"{_cell(p.send_error_ms_p99, '.1f')} | {_cell(p.rejections, 'd')} | "
            f"{_cell(p.over_bound, '.2f')} |"
        )
    return "\n".join(lines)


def to_json(points: Sequence[Point]) -> dict[str, Any]:
    return {
        "schema": "ratebench.concurrency/1",
        "latency": LATENCY,
        "wall_rate": WALL_RATE,
        "points": [asdict(p) for p in points],
    }
