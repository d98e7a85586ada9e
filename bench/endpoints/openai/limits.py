"""The OpenAI-compatible endpoint's two limits, as a scenario sets them: a closed type,
both always set (the endpoint's defaults where the scenario gave none)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.records.scenario import Scenario
from mock_server.endpoints.openai.settings import DEFAULTS


@dataclass(frozen=True, slots=True)
class OpenAILimits:
    """The endpoint's two limits, both always set: requests and tokens per minute."""

    rpm: int
    tpm: int

    @classmethod
    def of(cls, scenario: Scenario) -> OpenAILimits:
        """The scenario's limits, the endpoint's defaults where it set none."""
        return cls(scenario.rpm or DEFAULTS.rpm, scenario.tpm or DEFAULTS.tpm)

    def words(self) -> str:
        return f"{self.rpm} RPM and {self.tpm} TPM"
