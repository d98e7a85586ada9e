"""`GET /chat`'s settings: its flags, parsed and checked once.

The write-up's endpoint: one limit (`--rate`, a limits rate string whose
window the time scale multiplies), a latency drawn per accepted request
(`--latency`), and the faults it can inject (`--error-rate`,
`--stall-after`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from mock_server.settings import Rate, ServerSettings, check_storage, parse_limit
from mock_server.vocabulary import Latency, RatebenchError, Strategy, parse_latency

#: The write-up's response time: randint(2, 5) seconds.
DEFAULT_LATENCY = Latency(2, 5)


@dataclass(frozen=True, slots=True)
class Fault:
    """Faults to inject, for testing how clients and the bench cope.

    `error_rate`: probability that an accepted request answers with an error
    instead of "hello world": a 500 (`error_kind` "500"), or a 200 whose body
    is an HTML page instead of JSON (`error_kind` "garbage"). `stall_after`:
    after this many accepted requests, every further accepted request hangs
    (never answers) - a server that accepts but stalls.
    """

    error_rate: float = 0.0
    error_kind: str = "500"
    stall_after: int | None = None


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """`GET /chat`: its limit, strategy, latency and faults (scenario seconds)."""

    rate: Rate
    strategy: Strategy = "fixed-window"
    latency: Latency = DEFAULT_LATENCY
    fault: Fault = Fault()

    def describe(self) -> str:
        return f"/chat: limit {self.rate.text} ({self.strategy}), latency {self.latency} s"

    def as_dict(self) -> dict[str, Any]:
        """Its part of `GET /log`'s settings: at the top level, as the server's
        first endpoint always showed it."""
        return {
            "rate": self.rate.text,
            "limit": self.rate.amount,
            "window": self.rate.window,
            "strategy": self.strategy,
            "latency": [self.latency.low, self.latency.high],
            "error_rate": self.fault.error_rate,
            "error_kind": self.fault.error_kind,
            "stall_after": self.fault.stall_after,
        }


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    """The endpoint's flags, on the mock server's parser."""
    group = parser.add_argument_group(
        "the write-up's endpoint (GET /chat)",
        'limited by slowapi, as in the write-up: it answers "hello world" after a random '
        "latency drawn only for accepted requests, and 429 (with Retry-After and "
        "X-RateLimit-* headers) once the limit is used up",
    )
    group.add_argument(
        "--rate", default="2/second", help="the limit, as a limits rate string (default: 2/second)"
    )
    group.add_argument(
        "--latency",
        default="2-5",
        help="seconds per accepted request, LOW-HIGH; whole numbers draw "
        "randint(LOW, HIGH) as the write-up does (default: 2-5)",
    )
    group.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fault injection: probability that an accepted request answers with an error "
        "instead of the answer (default: 0)",
    )
    group.add_argument(
        "--error-kind",
        choices=("500", "garbage"),
        default="500",
        help="what --error-rate answers: a 500, or a 200 whose body is HTML, not JSON "
        "(default: 500)",
    )
    group.add_argument(
        "--stall-after",
        type=int,
        default=None,
        help="fault injection: after N accepted requests, accept but never answer (default: off)",
    )


def chat_settings_from_args(
    args: argparse.Namespace, server: ServerSettings, strategy: Strategy
) -> ChatSettings:
    """Check the endpoint's flags; RatebenchError says what is wrong and how to fix it."""
    if not 0.0 <= args.error_rate <= 1.0:
        raise RatebenchError(f"--error-rate {args.error_rate} must be a probability in [0, 1]")
    if args.stall_after is not None and args.stall_after < 0:
        raise RatebenchError(f"--stall-after {args.stall_after} must be >= 0")
    rate = parse_limit(args.rate)
    check_storage(server.storage, rate, server.time_scale)
    return ChatSettings(
        rate=rate,
        strategy=strategy,
        latency=parse_latency(args.latency),
        fault=Fault(
            error_rate=args.error_rate, error_kind=args.error_kind, stall_after=args.stall_after
        ),
    )
