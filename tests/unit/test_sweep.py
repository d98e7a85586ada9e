"""`python -m bench sweep`'s knobs: a bad one is one clear line."""

from __future__ import annotations

import pytest

from bench.experiments.sweep import parse_knob
from clients.config import ConfigError


@pytest.mark.parametrize(
    ("knob", "fragment"),
    [
        ("workers", "KNOB=V1,V2"),
        ("speed=1,2", "unknown knob 'speed'"),
        ("workers=1,two", "'two' is not a whole number"),
        ("workers=0,2", "workers must be at least 1"),
        ("rate=-1", "rate must be greater than 0"),
        ("n=2,2", "given twice"),
    ],
)
def test_bad_knobs_are_one_clear_line(knob: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_knob(knob)
    assert fragment.lower() in str(caught.value).lower()
