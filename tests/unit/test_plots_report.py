"""Plots and report from a hand-made results directory: no server, no clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.output.plots import client_timeline_file, draw_all
from bench.output.report import write_report
from bench.output.summary import write_summary
from bench.records.matching import clock_gaps, match_arrivals
from bench.records.results import (
    Expected,
    TheoryRecord,
    write_theory,
)
from bench.records.stats import percentile, representative_run
from tests.helpers import (
    hand_made_runs,
    naive_gather,
    thread_pool,
    write_results,
)


def hand_theory(clients: list[str], **fields: float) -> TheoryRecord:
    return TheoryRecord(expected=tuple(Expected(client=c, **fields) for c in clients))


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return write_results(tmp_path, hand_made_runs(), None)


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000


def test_plots_and_report(results_dir: Path) -> None:
    report = write_report(results_dir)
    pngs = sorted(results_dir.glob("*.png"))
    names = {p.name for p in pngs}
    expected = {"timeline.png", "throughput.png", "rejections.png", "makespan.png"}
    expected |= {"windows.png", "in-flight.png", "latency.png"}
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


def test_stored_theory_is_drawn_and_summarised(results_dir: Path) -> None:
    # Theory's fields by hand: the report and summary show what theory.json says.
    theory = hand_theory(
        ["thread_pool", "naive_gather", "token_bucket"],
        predicted_mean=7.0,
        predicted_stddev=1.0,
        bound=4.0,
        bound_stddev=0.5,
    )
    write_theory(results_dir, theory)
    text = write_report(results_dir).read_text(encoding="utf-8")
    assert "| 7.00 ± 1.00 | 2.12 |" in text  # thread pool: 8.5 / 4.0
    assert "Theory's model of this client predicts 7.00 s ± 1.00 s" in text
    assert is_png(results_dir / "makespan.png")
    summary = write_summary(results_dir, hand_made_runs(), theory)
    pool = summary["results"][0]
    assert (pool["predicted_mean"], pool["bound"], pool["measured_over_bound"]) == (7.0, 4.0, 2.125)
    # The machine is the one that made the runs, not this one.
    assert summary["machine"]["hostname"] == "bench-host"


def test_plots_without_summary_or_theory(results_dir: Path) -> None:
    (results_dir / "summary.json").unlink()
    paths = draw_all(results_dir)
    assert all(is_png(p) for p in paths)


def test_representative_run_is_closest_to_median() -> None:
    runs = [thread_pool(0), thread_pool(1), thread_pool(5)]  # 8, 9, 13 s
    assert representative_run(runs).run == 1


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


def test_ten_clients_differ_in_colour_and_marker_and_hatch() -> None:
    """Ten clients (the whole registry) never share a colour, a marker or a hatch,
    so every plot tells them apart in colour and in grey-scale print alike."""
    from bench.drawing.style import client_style

    styles = [client_style(i) for i in range(10)]
    for attribute in ("colour", "marker", "hatch"):
        values = [getattr(s, attribute) for s in styles]
        assert len(set(values)) == 10, (attribute, values)
    # No client is drawn red: red means a 429 in every figure.
    assert "#d62728" not in {s.colour for s in styles}
