"""The OpenAI-compatible endpoint's settings: its flags, parsed and checked once.

Limits are per minute, as OpenAI states them (`--rpm`, `--tpm`); like every
window of the mock server, the minute is multiplied by `--time-scale` (at
0.1 a minute lasts 6 s) while the amounts stay, so a burst is the same size
at every scale. `--quantize 1s` enforces each per-minute limit over one
second, as OpenAI says it may: `floor(limit x slice / 60 s)` per slice. Under
the windows that is a window of one slice; under `--strategy token-bucket`
it is the bucket's capacity (a slice's worth, refilled continuously at the
per-minute rate), and without it the bucket holds a whole minute's worth.
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

# The charge of a request that does not say how long its answer may be
# (OpenAI's own estimate for that case is not published).
DEFAULT_MAX_TOKENS = 256
# The most a request may ask for per choice (max_tokens, max_completion_tokens):
# gpt-4o-mini's documented maximum output. Above it OpenAI answers 400
# "max_tokens is too large", before any rate limit is consulted.
DEFAULT_MAX_OUTPUT_TOKENS = 16_384
DEFAULT_TTFT = Latency(0.2, 0.8)


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """`POST /v1/chat/completions`: its two limits and its latency model.

    All durations are scenario seconds; the server multiplies them by the
    time scale. `quantize`: the slice, in scenario seconds, over which each
    per-minute limit is enforced (None: the whole minute): a window of that
    length, or a token bucket holding that slice's worth. `strategy`: the
    limits strategy both limits are enforced with.
    """

    rpm: int = 60
    tpm: int = 10_000
    quantize: float | None = None
    ttft: Latency = DEFAULT_TTFT
    token_time: float = 0.01
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    headers: bool = True
    strategy: Strategy = "fixed-window"
    faults: FaultSettings = field(default_factory=FaultSettings)

    @property
    def window(self) -> float:
        """Scenario seconds of one enforcement window: a minute, or the slice."""
        return self.quantize if self.quantize is not None else MINUTE

    @property
    def requests_per_window(self) -> int:
        return per_slice(self.rpm, self.window)

    @property
    def tokens_per_window(self) -> int:
        return per_slice(self.tpm, self.window)

    @property
    def bucket(self) -> bool:
        """Whether the limits are token buckets (else windows)."""
        return self.strategy == "token-bucket"

    def describe(self) -> str:
        text = f"/v1: {self.rpm} RPM, {self.tpm} TPM"
        if self.bucket:
            text += (
                f" (buckets of {self.requests_per_window} requests and "
                f"{self.tokens_per_window} tokens, refilled continuously)"
            )
        elif self.quantize is not None:
            text += (
                f" (enforced as {self.requests_per_window} requests and "
                f"{self.tokens_per_window} tokens per {format_seconds(self.quantize)})"
            )
        return (
            text
            + f", {self.strategy}, ttft {self.ttft} s, {self.token_time:g} s/token"
            + self.faults.describe()
        )

    def as_dict(self) -> dict[str, Any]:
        """Its part of `GET /log`'s settings: its own fields, under "openai"."""
        fields = {
            "rpm": self.rpm,
            "tpm": self.tpm,
            "quantize": self.quantize,
            "window": self.window,
            "requests_per_window": self.requests_per_window,
            "tokens_per_window": self.tokens_per_window,
            # Under the token bucket: what each bucket holds (None: windows).
            "requests_capacity": self.requests_per_window if self.bucket else None,
            "tokens_capacity": self.tokens_per_window if self.bucket else None,
            "ttft": [self.ttft.low, self.ttft.high],
            "token_time": self.token_time,
            "default_max_tokens": self.default_max_tokens,
            "max_output_tokens": self.max_output_tokens,
            "headers": self.headers,
            "strategy": self.strategy,
            "faults": self.faults.as_dict(),
        }
        return {"openai": fields}


DEFAULTS = OpenAISettings()


def per_slice(per_minute: int, window: float) -> int:
    """How much of a per-minute limit one slice of `window` seconds allows (rounded
    down, so that no minute of whole slices admits more than the limit)."""
    if window >= MINUTE:
        return per_minute
    return math.floor(per_minute * window / MINUTE + 1e-9)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$")


def parse_duration(text: str, flag: str) -> float:
    """`1s`, `500ms`, `0.5s`, `1m` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise RatebenchError(
            f"{flag} {text!r} is not a duration: use a number with a unit, e.g. 1s or 500ms"
        )
    value = float(match.group(1))
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2)]


def format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def add_openai_arguments(parser: argparse.ArgumentParser) -> None:
    """The endpoint's flags, on the mock server's parser."""
    group = parser.add_argument_group(
        "OpenAI-compatible endpoint (POST /v1/chat/completions, GET /v1/models)",
        "Limited by --rpm and --tpm (LLM limits above): the TPM charge is the prompt's "
        "estimated tokens (characters / 4) plus n x max_tokens, and a request whose charge "
        "alone exceeds it is refused as too large.",
    )
    group.add_argument(
        "--quantize",
        default=None,
        metavar="DURATION",
        help="the shortest interval each per-minute limit is enforced over, as OpenAI may: "
        "windows of DURATION (e.g. 1s: --rpm 600 allows 10 per second); under --strategy "
        "token-bucket, the bucket's capacity: DURATION's worth (10 requests), refilled "
        "continuously at the per-minute rate (default: the whole minute's worth)",
    )
    group.add_argument(
        "--ttft",
        default=str(DEFAULTS.ttft),
        help="seconds to the first token, LOW-HIGH, drawn per accepted request like "
        f"--latency (default: {DEFAULTS.ttft})",
    )
    group.add_argument(
        "--token-time",
        type=float,
        default=DEFAULTS.token_time,
        help="seconds per output token after the first; output tokens are drawn from "
        f"1..max_tokens (default: {DEFAULTS.token_time:g})",
    )
    group.add_argument(
        "--default-max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help="max_tokens charged and allowed when a request names none "
        f"(default: {DEFAULT_MAX_TOKENS})",
    )
    group.add_argument(
        "--max-output-tokens",
        type=int,
        default=DEFAULT_MAX_OUTPUT_TOKENS,
        help="the model's maximum output per choice: a larger max_tokens or "
        "max_completion_tokens is refused with 400, as OpenAI refuses it "
        f"(default: {DEFAULT_MAX_OUTPUT_TOKENS:,}, gpt-4o-mini's)",
    )
    group.add_argument(
        "--no-ratelimit-headers",
        action="store_true",
        help="leave out the rate-limit headers and retry-after of every LLM API (OpenAI's "
        "x-ratelimit-* and retry-after(-ms), Anthropic's anthropic-ratelimit-*): real 429s "
        "are not always so helpful",
    )


def openai_settings_from_args(
    args: argparse.Namespace, server: ServerSettings, strategy: Strategy
) -> OpenAISettings:
    """Check the endpoint's flags; RatebenchError says what is wrong and how to fix it."""
    rpm = llm_limit(args, "rpm", DEFAULTS.rpm)
    tpm = llm_limit(args, "tpm", DEFAULTS.tpm)
    quantize = None
    if args.quantize is not None:
        quantize = parse_duration(args.quantize, "--quantize")
        if not 0 < quantize <= MINUTE:
            raise RatebenchError(
                f"--quantize {args.quantize} must be longer than 0 and at most a minute (60s)"
            )
        for flag, amount in (("--rpm", rpm), ("--tpm", tpm)):
            if per_slice(amount, quantize) < 1:
                raise RatebenchError(
                    f"--quantize {args.quantize} with {flag} {amount} allows less than one "
                    f"per slice: use a slice of at least {math.ceil(MINUTE / amount)}s"
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
    if args.default_max_tokens < 1:
        raise RatebenchError(f"--default-max-tokens {args.default_max_tokens} must be at least 1")
    if args.max_output_tokens < 1:
        raise RatebenchError(f"--max-output-tokens {args.max_output_tokens} must be at least 1")
    if args.default_max_tokens > args.max_output_tokens:
        raise RatebenchError(
            f"--default-max-tokens {args.default_max_tokens} is more than the model's "
            f"--max-output-tokens {args.max_output_tokens}: lower the one or raise the other"
        )
    settings = OpenAISettings(
        strategy=strategy,
        rpm=rpm,
        tpm=tpm,
        quantize=quantize,
        ttft=ttft,
        token_time=args.token_time,
        default_max_tokens=args.default_max_tokens,
        max_output_tokens=args.max_output_tokens,
        headers=not args.no_ratelimit_headers,
        faults=fault_settings_from_args(args),
    )
    if server.storage.startswith("redis://"):
        check_redis_window(
            settings.window,
            server.time_scale,
            "the endpoint's window",
            format_seconds(settings.window),
        )
    return settings
