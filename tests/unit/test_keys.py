"""`bench --api-key` is checked before a run: a bad key is one line, nothing made."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import BenchMain


@pytest.mark.parametrize(
    ("key", "fragment"), [("", "is not a key"), ("a b", "is not a key"), ("k=alpha", "=PROJECT")]
)
def test_the_bench_checks_its_key_before_it_runs(
    tmp_path: Path, bench_main: BenchMain, key: str, fragment: str
) -> None:
    # An empty key ran a bench with no key at all; k=alpha started the server
    # with key k while every client sent "k=alpha", all refused with 401s.
    out = tmp_path / "out"
    status, err = bench_main("--api-key", key, "--out", str(out))
    assert status == 2
    assert err.startswith("error: --api-key ")
    assert fragment in err
    assert err.count("\n") == 1
    assert not out.exists()
