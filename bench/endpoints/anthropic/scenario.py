"""What an Anthropic scenario adds to the bench's: its three limits and how output is
charged, the server's flags for them, and what the clients are told."""

from __future__ import annotations

import math
from typing import Any

from bench.endpoints.anthropic.bound import ThreeBucketError, scenario_bound
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.records.scenario import Scenario


def server_args(scenario: Scenario) -> tuple[str, ...]:
    """The mock server's `--rpm`, `--itpm`, `--otpm`, `--otpm-charge` and
    `--no-ratelimit-headers`."""
    limits = AnthropicLimits.of(scenario)
    args: tuple[str, ...] = () if scenario.headers else ("--no-ratelimit-headers",)
    return (
        *args,
        "--rpm",
        str(limits.rpm),
        "--itpm",
        str(limits.itpm),
        "--otpm",
        str(limits.otpm),
        "--otpm-charge",
        limits.otpm_charge,
    )


def client_knobs(scenario: Scenario) -> dict[str, Any]:
    """What the clients are told: the three limits and how output is charged (what
    Anthropic's documentation says; a client that learns the limits reads only the
    charge mode), the request set, and a deadline three times the bound (at least
    the usual one)."""
    limits = AnthropicLimits.of(scenario)
    try:
        deadline = max(scenario.default_deadline(), math.ceil(3 * scenario_bound(scenario).mean))
    except ThreeBucketError:  # refused by the bench's own check, with its message
        deadline = scenario.default_deadline()
    return {
        "rpm": limits.rpm,
        "tpm": None,
        "itpm": limits.itpm,
        "otpm": limits.otpm,
        "otpm_charge": limits.otpm_charge,
        "requests_file": scenario.requests,
        "deadline": deadline,
    }
