"""Anthropic's three limits, as a scenario sets them: a closed type, every one always
set (the endpoint's defaults where the scenario gave none)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.records.scenario import Scenario
from mock_server.token_bucket import Bucket
from mock_server.vocabulary import MINUTE

# The server's own defaults (`mock_server.endpoints.anthropic.settings`).
DEFAULT_RPM, DEFAULT_ITPM, DEFAULT_OTPM = 50, 30_000, 8_000
DEFAULT_OTPM_CHARGE = "produced"


@dataclass(frozen=True, slots=True)
class AnthropicLimits:
    """Requests, input tokens and output tokens per minute, and how output is charged:
    "produced" (counted as produced; a request needs one output token in the bucket to
    start) or "max-tokens" (`max_tokens` needed and charged at the start)."""

    rpm: int
    itpm: int
    otpm: int
    otpm_charge: str

    @classmethod
    def of(cls, scenario: Scenario) -> AnthropicLimits:
        """The scenario's limits, the endpoint's defaults where it set none."""
        return cls(
            scenario.rpm or DEFAULT_RPM,
            scenario.itpm or DEFAULT_ITPM,
            scenario.otpm or DEFAULT_OTPM,
            scenario.otpm_charge or DEFAULT_OTPM_CHARGE,
        )

    @property
    def at_start(self) -> bool:
        """Output is charged `max_tokens` at admission."""
        return self.otpm_charge == "max-tokens"

    def buckets(self, scale: float = 1.0) -> tuple[Bucket, Bucket, Bucket]:
        """The server's three buckets: a minute's worth each, refilled at the per-minute
        rate; rates in units a second at time scale `scale` (scenario seconds at 1)."""
        minute = MINUTE * scale
        return (
            Bucket(self.rpm, self.rpm / minute),
            Bucket(self.itpm, self.itpm / minute),
            Bucket(self.otpm, self.otpm / minute),
        )

    def words(self) -> str:
        return (
            f"{self.rpm} RPM, {self.itpm:,} ITPM and {self.otpm:,} OTPM "
            f"(output charged {'at max_tokens' if self.at_start else 'as produced'})"
        )
