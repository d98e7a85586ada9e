"""Gemini's three quotas and its day, as a scenario sets them: a closed type, every
part always set (the endpoint's defaults where the scenario gave none)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.records.scenario import MINUTES_A_DAY, Scenario, parse_day_start
from mock_server.endpoints.gemini.settings import DEFAULTS
from mock_server.vocabulary import MINUTE


@dataclass(frozen=True, slots=True)
class GeminiLimits:
    """Requests and input tokens per minute, requests per day; a day of `day_minutes`
    scenario minutes, the batch starting `day_start` minutes after midnight (Pacific)."""

    rpm: int
    itpm: int
    rpd: int
    day_minutes: float = MINUTES_A_DAY
    day_start: int = 0

    @classmethod
    def of(cls, scenario: Scenario) -> GeminiLimits:
        """The scenario's quotas and day, the endpoint's defaults where it set none."""
        return cls(
            scenario.rpm or DEFAULTS.rpm,
            scenario.itpm or DEFAULTS.itpm,
            scenario.rpd or DEFAULTS.rpd,
            scenario.day_minutes or DEFAULTS.day_minutes,
            parse_day_start(scenario.day_start) if scenario.day_start else DEFAULTS.day_start,
        )

    @property
    def day(self) -> float:
        """Scenario seconds in a day."""
        return self.day_minutes * MINUTE

    @property
    def first_end(self) -> float:
        """Scenario seconds from the batch's start to the opening of the next day."""
        return self.day * (1 - self.day_start / MINUTES_A_DAY)

    def opens(self, day: int) -> float:
        """When day `day` opens, scenario seconds from the batch's start (0 for day 0)."""
        return 0.0 if day == 0 else self.first_end + (day - 1) * self.day

    def day_of(self, t: float) -> int:
        """The day (from 0) that `t` scenario seconds after the batch's start falls in."""
        if t < self.first_end:
            return 0
        return 1 + math.floor((t - self.first_end) / self.day + 1e-12)

    def start_words(self) -> str:
        return f"{self.day_start // 60:02d}:{self.day_start % 60:02d}"

    def words(self) -> str:
        day = "" if self.day_minutes == MINUTES_A_DAY else f", a day of {self.day_minutes:g} min"
        return (
            f"{self.rpm} RPM, {self.itpm:,} input TPM and {self.rpd} RPD{day} "
            f"(starting at {self.start_words()} Pacific)"
        )
