"""`--check`: parsed at the edge (bad input is one line, status 2) and held
against the summary's own figures, every client's or one's."""

from __future__ import annotations

from typing import Any

import pytest

from bench.output.checks import evaluate, format_outcomes, parse_check
from tests.helpers import BenchMain

SUMMARY: dict[str, Any] = {
    "clients": ["tb", "naive", "lossy"],
    "results": [
        {
            "command": "tb",
            "mean": 10.0,
            "median": 10.0,
            "min": 9.0,
            "max": 11.0,
            "stddev": 1.0,
            "measured_over_bound": 1.05,
            "rejections": [0, 0],
            "incomplete_requests": [0, 0],
            "failed_runs": 0,
        },
        {
            "command": "naive",
            "mean": 30.0,
            "median": 30.0,
            "min": 29.0,
            "max": 31.0,
            "stddev": 1.0,
            "rejections": [8, 4],
            "incomplete_requests": [0, 1],
            "failed_runs": 0,
        },
    ],
    "gave_up": [{"command": "lossy", "rejections": [3], "requests_lost": [2]}],
    "failed_runs": [{"client": "lossy", "run": 0, "reason": "gave up"}],
    "no_completed_runs": ["lossy"],
}


def test_checks_read_the_summary_for_every_client_or_one() -> None:
    names = SUMMARY["clients"]
    checks = [
        parse_check("rejections == 0", names),
        parse_check(" naive : max_rejections<=8 ", names),
        parse_check("over_bound < 1.1", names),
        parse_check("lost <= 0.5", names),
    ]
    got = [(o.client, o.check.text, o.value, o.passed) for o in evaluate(checks, SUMMARY)]
    assert got == [
        ("tb", "rejections == 0", 0.0, True),
        ("naive", "rejections == 0", 6.0, False),
        ("lossy", "rejections == 0", 3.0, False),
        ("naive", "naive : max_rejections<=8", 8.0, True),
        ("tb", "over_bound < 1.1", 1.05, True),
        ("naive", "over_bound < 1.1", None, False),  # no theory: no value, no pass
        ("lossy", "over_bound < 1.1", None, False),
        ("tb", "lost <= 0.5", 0.0, True),
        ("naive", "lost <= 0.5", 0.5, True),
        ("lossy", "lost <= 0.5", 2.0, False),
    ]
    table = format_outcomes(evaluate(checks[:1], SUMMARY))
    assert table.splitlines()[-1] == "  1 passed, 2 failed: exit status 1"
    assert "FAIL  naive   rejections == 0  6" in table


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ("rejections = 0", "expected 'METRIC OP NUMBER'"),
        ("speed < 3", "unknown metric 'speed'"),
        ("nobody:mean < 3", "'nobody' is not a client of this bench"),
    ],
)
def test_a_bad_check_is_one_line_and_status_2(
    bench_main: BenchMain, check: str, words: str
) -> None:
    status, err = bench_main("--clients", "token_bucket", "--check", check)
    assert status == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1
