"""The just recipes: bad input through them is still one line and exit 2, and
`just --list` documents every recipe the README names.

The three CLIs' own bad-input catalogues live beside their tests
(test_mock_server.py, test_clients_cli.py, test_bench.py); this file adds the
recipes on top, which must neither echo commands nor add a line of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, assert_one_line_error, just


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bench", "--runs", "0"], "--runs"),
        (["bench", "--clients", "warp_drive"], "warp_drive"),
        (["bench-quick", "--rate", "2 per fortnight"], "rate"),
        (["bench", "plot", "/nonexistent/results"], "not a directory"),
        (["serve", "--latency", "5-2"], "inverted"),
        (["serve", "--time-scale", "-0.1"], "time scale"),
        (["client", "warp_drive"], "unknown client"),
        (["client", "thread_pool", "-n", "0"], "-n"),
    ],
)
def test_bad_input_through_a_recipe_is_one_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(just(*args), fragment)


def test_a_corrupted_runs_file_through_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "runs.jsonl").write_text('{"schema": "ratebench.bench-run/1", "client": "x"\n')
    assert_one_line_error(just("bench", "plot", str(tmp_path)), "corrupted")


def test_every_recipe_the_readme_names_is_listed() -> None:
    listed = just("--list").stdout
    readme = (ROOT / "README.md").read_text()
    for recipe in ("bench", "bench-quick", "bench-redis", "test", "lint", "serve", "client"):
        assert f"    {recipe} " in listed
        assert f"just {recipe}" in readme
