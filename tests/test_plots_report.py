"""Plots and report from a hand-made results directory: no server, no clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.plots import client_timeline_file, draw_all, representative_run
from bench.report import clock_gaps, match_arrivals, percentile, write_report
from bench.results import RUN_SCHEMA
from bench.summary import write_summary

SCALE = 0.1
STARTED = 100.0  # raw monotonic seconds at the batch's start
SCENARIO = {
    "clients": ["thread_pool", "naive_gather", "token_bucket"],
    "runs": 2,
    "n": 4,
    "time_scale": SCALE,
    "seed": 0,
    "retry": "exponential",
    "rate": "2/second",
    "strategy": "fixed-window",
    "latency": "2-5",
    "url": None,
    "deadline": 600.0,
}


def attempt(
    request: int, number: int, queued: float, sent: float, finished: float, outcome: str = "ok"
) -> dict[str, Any]:
    """One attempt; times in scenario seconds, stored as wall seconds like the bench."""
    return {
        "request": request,
        "attempt": number,
        "queued": queued * SCALE,
        "sent": sent * SCALE,
        "finished": finished * SCALE,
        "status": 200 if outcome == "ok" else 429,
        "outcome": outcome,
        "limiter_wait": (sent - queued) * SCALE,
    }


def server_entry(seq: int, a: dict[str, Any]) -> dict[str, Any]:
    """What the server would have logged for attempt `a`: arrival 1 ms after the send."""
    arrival = STARTED + a["sent"] + 0.001
    ok = a["outcome"] == "ok"
    latency = a["finished"] - a["sent"] - 0.002
    return {
        "seq": seq,
        "arrival": arrival,
        "accepted": ok,
        "status": a["status"],
        "decided": arrival + 0.0001,
        "wall": 1.7e9 + arrival,
        "window_reset": 1.7e9 + arrival + 0.05,
        "drawn": round(latency / SCALE) if ok else None,
        "latency": latency if ok else None,
        "left": STARTED + a["finished"] - 0.0005,
    }


def run_record(client: str, run: int, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(attempts, key=lambda a: a["sent"])
    return {
        "schema": RUN_SCHEMA,
        "client": client,
        "run": run,
        "seed": run,
        "time_scale": SCALE,
        "scenario": SCENARIO,
        "wall_start": 1.7e9,
        "n": 4,
        "started": STARTED,
        "makespan": max(a["finished"] for a in attempts),
        "completed": sum(a["outcome"] == "ok" for a in attempts),
        "rejections": sum(a["outcome"] == "rate_limited" for a in attempts),
        "attempts": attempts,
        "status": "ok",
        "reason": None,
        "server_log": [server_entry(i, a) for i, a in enumerate(ordered)],
        "server_settings": {"rate": "2/second", "limit": 2, "window": 1.0, "time_scale": SCALE},
    }


def thread_pool(run: int) -> dict[str, Any]:
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


def naive_gather(run: int) -> dict[str, Any]:
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


def token_bucket(run: int) -> dict[str, Any]:
    return run_record(
        "token_bucket",
        run,
        [attempt(i, 0, 0, 0.5 * (i + 1), 0.5 * (i + 1) + 3 + run * 0.5) for i in range(4)],
    )


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    runs = [make(r) for r in range(2) for make in (thread_pool, naive_gather, token_bucket)]
    failed = token_bucket(2)
    failed.update(status="failed", reason="server died mid-run")
    runs.append(failed)
    with (tmp_path / "runs.jsonl").open("w", encoding="utf-8") as f:
        for record in runs:
            f.write(json.dumps(record) + "\n")
    write_summary(tmp_path, runs)
    return tmp_path


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000


def test_plots_and_report(results_dir: Path) -> None:
    report = write_report(results_dir)
    pngs = sorted(results_dir.glob("*.png"))
    names = {p.name for p in pngs}
    expected = {"timeline.png", "throughput.png", "rejections.png", "makespan.png"}
    expected |= {client_timeline_file(c) for c in ("thread_pool", "naive_gather", "token_bucket")}
    assert names == expected
    assert all(is_png(p) for p in pngs)
    text = report.read_text(encoding="utf-8")
    for name in expected:
        assert f"]({name})" in text
    assert "run 3 of `token_bucket`: server died mid-run" in text
    # Measured figures come from the records: thread pool makespans 8 and 9 s.
    assert "| thread_pool | 8.50 ± 0.71 | 8.00 … 9.00 | 2 (+1 failed) |" not in text
    assert "| thread_pool | 8.50 ± 0.71 | 8.00 … 9.00 | 2 | 0.0 |" in text
    assert "| token_bucket | 5.25 ± 0.35 | 5.00 … 5.50 | 2 (+1 failed) | 0.0 |" in text
    assert "| naive_gather | 12.50 ± 0.71 | 12.00 … 13.00 | 2 | 3.0 |" in text
    # Not the write-up's scenario (n = 4): none of its fixed theory figures.
    assert "about 49 s" not in text
    assert "about 9.1 s" not in text


def test_theory_fields_are_drawn_when_present(results_dir: Path) -> None:
    summary_path = results_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    # Set theory's fields by hand, whatever the summary computed for them.
    for result in summary["results"]:
        result.update(predicted_mean=7.0, predicted_stddev=1.0, bound=4.0)
    summary["bound"] = 4.0
    summary_path.write_text(json.dumps(summary), encoding="utf-8")
    text = write_report(results_dir).read_text(encoding="utf-8")
    assert "| 7.00 ± 1.00 | 2.12 |" in text  # thread pool: 8.5 / 4.0
    assert is_png(results_dir / "makespan.png")


def test_plots_without_summary(results_dir: Path) -> None:
    (results_dir / "summary.json").unlink()
    paths = draw_all(results_dir)
    assert all(is_png(p) for p in paths)


def test_representative_run_is_closest_to_median() -> None:
    runs = [thread_pool(0), thread_pool(1), thread_pool(5)]  # 8, 9, 13 s
    assert representative_run(runs)["run"] == 1


def test_matcher_pairs_nearest_unused() -> None:
    # Three sends; one never reached the server. The lost one must not shift
    # the later pair: the send at 0.5 s still gets the arrival at 0.502 s.
    sends = [0.000, 0.001, 0.500]
    arrivals = [0.502, 0.003]
    assert match_arrivals(sends, arrivals) == [(1, 1), (2, 0)]


def test_matcher_uses_finish_times_when_sends_swap() -> None:
    # Thread A stamps its send first but opens a new connection; thread B
    # reaches the server first. Send order alone would pair them wrongly;
    # the finish times (A's latency 0.4 s, B's 0.2 s) put them right.
    sends = [0.2101, 0.2162]
    finished = [0.6257, 0.4258]
    arrivals = [0.2175, 0.2232]
    left = [0.4255, 0.6254]
    assert match_arrivals(sends, arrivals, finished, left) == [(0, 1), (1, 0)]


def test_clock_gaps_from_a_run() -> None:
    gaps = clock_gaps(naive_gather(0))
    assert gaps.unmatched == 0
    assert gaps.send_to_arrival == pytest.approx([0.001] * 7)
    assert gaps.left_to_finished == pytest.approx([0.0005] * 7)


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(range(101)), 99) == pytest.approx(99.0)
