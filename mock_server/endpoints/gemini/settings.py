"""The Gemini endpoint's settings: its quotas and its day, parsed and checked once.

Three quotas per project, as Google's rate-limit page lists them: requests
per minute (`--rpm`), input tokens per minute (`--itpm`, Google's "TPM")
and requests per day (`--rpd`), from the shared LLM limits group. A minute
is multiplied by `--time-scale` like every window of the server; a day has
a length of its own, `--day-minutes` scenario minutes (1440 by default, a
real day), so that a day-bound batch runs in minutes while a minute keeps
its length. The server's day clock opens at `--day-start` (Pacific time,
where Google's days turn) when it starts and again at every `POST /reset`.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, field
from typing import Any

from mock_server.endpoints.faults import FaultSettings, fault_settings_from_args
from mock_server.endpoints.llm_limits import llm_limit
from mock_server.settings import ServerSettings
from mock_server.vocabulary import (
    MAX_LATENCY,
    MINUTE,
    Latency,
    RatebenchError,
    Strategy,
    check_redis_window,
    parse_latency,
)

#: Minutes in a real day.
DAY_MINUTES = 1440.0
#: The answer length drawn from when a request sets no maxOutputTokens (Gemini's
#: own default is the model's whole output limit, far too long to wait for).
DEFAULT_MAX_OUTPUT_TOKENS = 256
#: The most a request may ask for: gemini-2.5-flash's output token limit.
OUTPUT_TOKEN_LIMIT = 65_536
#: The most candidates a request may ask for (candidateCount), as Google allows.
MAX_CANDIDATES = 8
DEFAULT_TTFT = Latency(0.2, 0.8)  # --ttft's and --token-time's defaults, as every LLM API's
TOKEN_TIME = 0.01


@dataclass(frozen=True, slots=True)
class GeminiSettings:
    """`POST /v1beta/models/{model}:generateContent` and its stream: three quotas,
    a day clock and a latency model.

    `rpm`, `itpm`: per minute (a minute is 60 scenario seconds); `rpd`: per
    day of `day_minutes` scenario minutes; `day_start`: minutes after
    midnight (Pacific) at which the day clock opens. `strategy`: how the two
    per-minute quotas are enforced (the day is always a calendar day).
    """

    rpm: int = 10
    itpm: int = 250_000
    rpd: int = 250
    day_minutes: float = DAY_MINUTES
    day_start: int = 0
    ttft: Latency = DEFAULT_TTFT
    token_time: float = TOKEN_TIME
    default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    strategy: Strategy = "fixed-window"
    faults: FaultSettings = field(default_factory=FaultSettings)

    @property
    def day(self) -> float:
        """Scenario seconds in a day."""
        return self.day_minutes * MINUTE

    @property
    def day_offset(self) -> float:
        """Scenario seconds from the opening of the day the clock starts in to its start."""
        return self.day * self.day_start / (DAY_MINUTES)

    def describe(self) -> str:
        day = "" if self.day_minutes == DAY_MINUTES else f" (a day of {self.day_minutes:g} min)"
        return (
            f"/v1beta: {self.rpm} RPM, {self.itpm} TPM (input), {self.rpd} RPD{day} from "
            f"{format_clock(self.day_start)} Pacific, {self.strategy}, ttft {self.ttft} s, "
            f"{self.token_time:g} s/token" + self.faults.describe()
        )

    def as_dict(self) -> dict[str, Any]:
        """Its part of `GET /log`'s settings, under "gemini"."""
        return {
            "gemini": {
                "rpm": self.rpm,
                "itpm": self.itpm,
                "rpd": self.rpd,
                "day_minutes": self.day_minutes,
                "day_start": format_clock(self.day_start),
                "day_offset": self.day_offset,
                "ttft": [self.ttft.low, self.ttft.high],
                "token_time": self.token_time,
                "default_max_output_tokens": self.default_max_output_tokens,
                "strategy": self.strategy,
                "faults": self.faults.as_dict(),
            }
        }


DEFAULTS = GeminiSettings()

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_clock(text: str) -> int:
    """`HH:MM` (24-hour) -> minutes after midnight."""
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise RatebenchError(
            f"--day-start {text!r} is not a time of day: use HH:MM on a 24-hour clock, e.g. 18:30"
        )
    return int(match.group(1)) * 60 + int(match.group(2))


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def add_gemini_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Gemini API (POST /v1beta/models/{model}:generateContent, :streamGenerateContent, "
        ":countTokens; GET /v1beta/models; /v1 too)",
        "Limited per project by --rpm, --itpm (Google's TPM: input tokens) and --rpd (LLM "
        "limits above); the day turns at midnight Pacific time, as Google's does. Latency "
        "from --ttft and --token-time; the LLM faults as Google words them (503 UNAVAILABLE, "
        "402 for spent prepay credits, an error event ending a stream). No rate-limit "
        "headers: a 429's body says which quota and how long.",
    )
    group.add_argument(
        "--day-minutes",
        type=float,
        default=DAY_MINUTES,
        metavar="N",
        help="length of a day in scenario minutes, so that a day-bound batch runs in minutes "
        "while a minute keeps its length (default: 1440, a real day)",
    )
    group.add_argument(
        "--day-start",
        default="00:00",
        metavar="HH:MM",
        help="Pacific time of day at which the server's day clock opens, at start and at "
        "every POST /reset (default: 00:00, a whole day ahead)",
    )


def gemini_settings_from_args(
    args: argparse.Namespace, server: ServerSettings, strategy: Strategy
) -> GeminiSettings:
    """Check the endpoint's flags; RatebenchError says what is wrong and how to fix it."""
    minutes = args.day_minutes
    if not (math.isfinite(minutes) and 1 <= minutes <= DAY_MINUTES):
        raise RatebenchError(
            f"--day-minutes {minutes:g} must be from 1 to 1440 scenario minutes (a real day), "
            "e.g. 10 to run a day-bound batch in minutes"
        )
    try:
        ttft = parse_latency(args.ttft)
    except RatebenchError as exc:
        raise RatebenchError(f"--ttft: {exc}") from None
    if not 0 <= args.token_time <= MAX_LATENCY:  # also false for NaN
        raise RatebenchError(
            f"--token-time {args.token_time:g} must be a number of seconds from 0 to "
            f"{MAX_LATENCY:g}, e.g. 0.01"
        )
    settings = GeminiSettings(
        rpm=llm_limit(args, "rpm", DEFAULTS.rpm),
        itpm=llm_limit(args, "itpm", DEFAULTS.itpm),
        rpd=llm_limit(args, "rpd", DEFAULTS.rpd),
        day_minutes=minutes,
        day_start=parse_clock(args.day_start),
        ttft=ttft,
        token_time=args.token_time,
        strategy=strategy,
        faults=fault_settings_from_args(args),
    )
    if server.storage.startswith("redis://"):
        check_redis_window(MINUTE, server.time_scale, "a minute", "60s")
    return settings
