"""What a Gemini scenario adds to the bench's: its three quotas and its day, the
server's flags for them, and what the clients are told (the quotas, the day, the
request set, a deadline long enough for every day the batch needs)."""

from __future__ import annotations

import math
from typing import Any

from bench.endpoints.gemini.bound import QuotaError, scenario_bound
from bench.endpoints.gemini.limits import GeminiLimits
from bench.records.scenario import Scenario


def server_args(scenario: Scenario) -> tuple[str, ...]:
    """The mock server's `--rpm`, `--itpm`, `--rpd`, `--day-minutes` and `--day-start`."""
    args: tuple[str, ...] = ()
    for flag, value in (
        ("--rpm", scenario.rpm),
        ("--itpm", scenario.itpm),
        ("--rpd", scenario.rpd),
    ):
        if value is not None:
            args += (flag, str(value))
    if scenario.day_minutes is not None:
        args += ("--day-minutes", f"{scenario.day_minutes:g}")
    if scenario.day_start is not None:
        args += ("--day-start", scenario.day_start)
    return args


def client_knobs(scenario: Scenario) -> dict[str, Any]:
    """What the clients are told: the quotas, the day and the request set, and a
    deadline three times the bound (at least the usual one)."""
    limits = GeminiLimits.of(scenario)
    try:
        deadline = max(scenario.default_deadline(), math.ceil(3 * scenario_bound(scenario).mean))
    except QuotaError:  # refused by the bench's own check, with its message
        deadline = scenario.default_deadline()
    return {
        "rpm": limits.rpm,
        "itpm": limits.itpm,
        "rpd": limits.rpd,
        "day_minutes": limits.day_minutes,
        "day_start": limits.start_words(),
        "requests_file": scenario.requests,
        "deadline": deadline,
    }
