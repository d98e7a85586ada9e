"""Retry schedules, in scenario seconds."""

from __future__ import annotations

import math

import pytest

from clients.config import ClientConfig, ConfigError
from clients.infra.retry import RetryPolicy, retry_sleep


def test_exponential_doubles_from_three_seconds() -> None:
    assert RetryPolicy("exponential").schedule() == [3, 6, 12, 24]


def test_writeup_squares_the_sleep_as_its_code_did() -> None:
    # retry_sleep = retry_sleep ** retry_multiplier, with multiplier 2
    assert RetryPolicy("writeup").schedule() == [3, 9, 81, 6561]


def test_none_makes_a_single_attempt() -> None:
    policy = RetryPolicy("none", attempts=5)
    assert policy.max_attempts == 1
    assert policy.schedule() == []


def test_first_try_never_sleeps() -> None:
    for name in ("exponential", "writeup", "none"):
        assert RetryPolicy(name).sleep_before(0) == 0.0


def test_attempts_and_first_sleep_are_knobs() -> None:
    assert RetryPolicy("exponential", attempts=3, first_sleep=0.5).schedule() == [0.5, 1.0]
    assert RetryPolicy("writeup", attempts=4, first_sleep=2).schedule() == [2, 4, 16]
    assert RetryPolicy("exponential", attempts=1).schedule() == []


def test_from_config_reads_the_defaults_of_the_write_up() -> None:
    policy = RetryPolicy.from_config(ClientConfig())
    assert (policy.name, policy.max_attempts, policy.first_sleep) == ("exponential", 5, 3.0)


def test_writeup_schedule_past_float_range_is_infinite() -> None:
    assert retry_sleep("writeup", 12, 3.0) == math.inf


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_sleep("exponential", -1)
    with pytest.raises(ValueError, match="single attempt"):
        retry_sleep("none", 1)
    with pytest.raises(ConfigError, match="exponential, writeup, none"):
        retry_sleep("sometimes", 1)  # type: ignore[arg-type]
