"""What an OpenAI-compatible scenario adds to the bench's: its two limits, the server's
flags for them, and what the clients are told (the limits, the request set, a deadline)."""

from __future__ import annotations

import math
from typing import Any

from bench.endpoints.openai.bound import TwoLimitError, scenario_bound
from bench.records.scenario import Scenario


def server_args(scenario: Scenario) -> tuple[str, ...]:
    """The mock server's `--rpm`, `--tpm` and `--no-ratelimit-headers`."""
    args: tuple[str, ...] = () if scenario.headers else ("--no-ratelimit-headers",)
    if scenario.rpm is not None:
        args += ("--rpm", str(scenario.rpm))
    if scenario.tpm is not None:
        args += ("--tpm", str(scenario.tpm))
    return args


def client_knobs(scenario: Scenario) -> dict[str, Any]:
    """What the clients are told: the limits and the request set, and a deadline three
    times the two-limit bound (at least the usual one), since a set of many minutes'
    worth takes that long at best."""
    try:
        deadline = max(scenario.default_deadline(), math.ceil(3 * scenario_bound(scenario).mean))
    except TwoLimitError:  # refused by the bench's own check, with its message
        deadline = scenario.default_deadline()
    return {
        "rpm": scenario.rpm,
        "tpm": scenario.tpm,
        "requests_file": scenario.requests,
        "deadline": deadline,
    }
