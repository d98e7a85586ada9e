"""The attempt record and the recorder that fills it."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import pytest

from clients.infra.recorder import Recorder
from clients.infra.records import Attempt, ClientRun, RecordError

GOOD: dict[str, Any] = {
    "request": 0,
    "attempt": 0,
    "queued": 0.0,
    "sent": 0.5,
    "finished": 3.0,
    "status": 200,
    "outcome": "ok",
    "limiter_wait": 0.5,
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"request": -1}, ">= 0"),
        ({"attempt": -1}, ">= 0"),
        ({"sent": math.nan}, "finite"),
        ({"finished": math.inf}, "finite"),
        ({"queued": 1.0}, "out of order"),
        ({"finished": 0.1}, "out of order"),
        ({"limiter_wait": -0.1}, "limiter_wait"),
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_impossible_attempts_are_refused(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(RecordError, match=fragment):
        Attempt(**{**GOOD, **change})


def test_run_round_trips_through_json() -> None:
    attempts = (
        Attempt(**GOOD),
        Attempt(**{**GOOD, "request": 1, "status": 429, "outcome": "rate_limited"}),
    )
    run = ClientRun(client="token_bucket", n=3, started=123.4, attempts=attempts, makespan=3.0)
    data = json.loads(json.dumps(run.to_dict()))
    assert (data["completed"], data["rejections"]) == (1, 1)
    assert ClientRun.from_dict(data) == run
    assert run.failed == 2


def test_bad_run_file_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="not a client run"):
        ClientRun.from_dict({"client": "x"})


def test_recorder_times_are_from_the_run_start() -> None:
    now = [1000.0]
    recorder = Recorder("c", 2, clock=lambda: now[0])
    now[0] = 1002.5
    assert recorder.now() == 2.5
    recorder.record(1, 0, queued=0.0, sent=1.0, finished=2.5, status=200, outcome="ok")
    recorder.record(0, 1, queued=1.0, sent=1.0, finished=2.0, status=429, outcome="rate_limited")
    recorder.record(0, 0, queued=0.0, sent=0.0, finished=0.5, status=429, outcome="rate_limited")
    run = recorder.result()
    assert run.started == 1000.0
    assert run.makespan == 2.5
    assert [(a.request, a.attempt) for a in run.attempts] == [(0, 0), (0, 1), (1, 0)]
    assert run.failed == 1


def test_recorder_lines_do_not_interleave_across_threads() -> None:
    inside = threading.Lock()
    overlaps: list[str] = []
    lines: list[str] = []

    def on_line(line: str) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(line)
            return
        try:
            lines.append(line)
        finally:
            inside.release()

    recorder = Recorder("c", 1, on_line)

    def worker(i: int) -> None:
        for _ in range(200):
            recorder.line(f"{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert len(lines) == 800
