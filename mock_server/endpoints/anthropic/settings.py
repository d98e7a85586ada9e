"""The Anthropic Messages endpoint's settings: its flags, parsed and checked once.

Its three limits come from the shared LLM limits (`--rpm`, `--itpm`,
`--otpm`), each a token bucket holding a minute's worth and refilled
continuously at the per-minute rate, as Anthropic documents them; the
minute is multiplied by `--time-scale` like every window of the server.
Its latency is the OpenAI-compatible endpoint's model, from the same flags
(`--ttft`, `--token-time`).

`--otpm-charge` says when output tokens are charged:

- `produced` (the default, as Anthropic's current rate-limit page has it:
  output tokens count as they are produced and `max_tokens` is not
  charged): a request is admitted when the output bucket is not empty (it
  holds at least one token), and its real output is charged when it has
  been produced (the answer's last token, or a stream's end), whatever the
  bucket then holds, so that the level may go below zero and later
  requests wait for the refill;
- `max-tokens` (what the same page said in 2025: estimated from
  `max_tokens` at the start): a request needs `max_tokens` in the output
  bucket to start and is charged that at once, never refunded (the docs
  said the estimate was adjusted at the end; not modelled, so that the
  bound under three buckets is exact).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from mock_server.endpoints.faults import FaultSettings, fault_settings_from_args
from mock_server.endpoints.llm_limits import llm_limit
from mock_server.settings import ServerSettings
from mock_server.vocabulary import (
    MAX_LATENCY,
    MINUTE,
    Latency,
    RatebenchError,
    Strategy,
    parse_latency,
)

OtpmCharge = Literal["produced", "max-tokens"]
OTPM_CHARGES: tuple[OtpmCharge, ...] = get_args(OtpmCharge)
# Claude Sonnet 4.x at Anthropic's first tier (50 RPM, 30,000 ITPM, 8,000 OTPM).
DEFAULT_LIMITS = {"rpm": 50, "itpm": 30_000, "otpm": 8_000}
# The most a request may ask for: Claude Sonnet 4's maximum output. Above it
# the API answers 400 before any limit is consulted.
MAX_OUTPUT_TOKENS = 64_000
DEFAULT_TTFT = Latency(0.2, 0.8)


@dataclass(frozen=True, slots=True)
class AnthropicSettings:
    """`POST /v1/messages`: three token buckets and the latency model.

    Durations in scenario seconds; the server multiplies them by the time scale.
    """

    rpm: int = DEFAULT_LIMITS["rpm"]
    itpm: int = DEFAULT_LIMITS["itpm"]
    otpm: int = DEFAULT_LIMITS["otpm"]
    otpm_charge: OtpmCharge = "produced"
    ttft: Latency = DEFAULT_TTFT
    token_time: float = 0.01
    max_output_tokens: int = MAX_OUTPUT_TOKENS
    headers: bool = True
    strategy: Strategy = "token-bucket"
    faults: FaultSettings = field(default_factory=FaultSettings)

    def describe(self) -> str:
        return (
            f"/v1/messages: {self.rpm} RPM, {self.itpm} ITPM, {self.otpm} OTPM (token buckets, "
            f"output charged {self.otpm_charge}), ttft {self.ttft} s, "
            f"{self.token_time:g} s/token" + self.faults.describe()
        )

    def as_dict(self) -> dict[str, Any]:
        """Its part of `GET /log`'s settings, under "anthropic"."""
        return {
            "anthropic": {
                "rpm": self.rpm,
                "itpm": self.itpm,
                "otpm": self.otpm,
                "otpm_charge": self.otpm_charge,
                # Each bucket holds a minute's worth, refilled at the per-minute rate.
                "window": MINUTE,
                "ttft": [self.ttft.low, self.ttft.high],
                "token_time": self.token_time,
                "max_output_tokens": self.max_output_tokens,
                "headers": self.headers,
                "strategy": self.strategy,
                "faults": self.faults.as_dict(),
            }
        }


def add_anthropic_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Anthropic Messages endpoint (POST /v1/messages, POST /v1/messages/count_tokens)",
        "Limited by --rpm, --itpm and --otpm (LLM limits above), each a token bucket holding "
        "a minute's worth and refilled continuously, one budget per project across models "
        "(always buckets: --strategy NAME for every API leaves them so). Latency from --ttft "
        "and --token-time; --no-ratelimit-headers leaves out its anthropic-ratelimit-* and "
        "retry-after too.",
    )
    group.add_argument(
        "--otpm-charge",
        choices=OTPM_CHARGES,
        default="produced",
        help="when output tokens are charged: produced (Anthropic's current docs: a request "
        "starts while the output bucket is not empty and is charged its real output once "
        "produced) or max-tokens (the docs of 2025: max_tokens needed and charged at the "
        "start) (default: produced)",
    )


def anthropic_settings_from_args(
    args: argparse.Namespace, server: ServerSettings, strategy: Strategy
) -> AnthropicSettings:
    """Check the endpoint's flags; RatebenchError says what is wrong and how to fix it."""
    explicit = [name for api, name in args.strategy if api == "anthropic"]
    if explicit and explicit[-1] != "token-bucket":
        raise RatebenchError(
            f"--strategy anthropic={explicit[-1]}: Anthropic's limits are token buckets, "
            "the only strategy its endpoint has; leave it out or use anthropic=token-bucket"
        )
    try:
        ttft = parse_latency(args.ttft)
    except RatebenchError as exc:
        raise RatebenchError(f"--ttft: {exc}") from None
    if not 0 <= args.token_time <= MAX_LATENCY:
        raise RatebenchError(
            f"--token-time {args.token_time:g} must be a number of seconds from 0 to "
            f"{MAX_LATENCY:g}, e.g. 0.01"
        )
    return AnthropicSettings(
        rpm=llm_limit(args, "rpm", DEFAULT_LIMITS["rpm"]),
        itpm=llm_limit(args, "itpm", DEFAULT_LIMITS["itpm"]),
        otpm=llm_limit(args, "otpm", DEFAULT_LIMITS["otpm"]),
        otpm_charge=args.otpm_charge,
        ttft=ttft,
        token_time=args.token_time,
        headers=not args.no_ratelimit_headers,
        faults=fault_settings_from_args(args),
    )
