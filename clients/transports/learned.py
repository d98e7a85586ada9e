"""What one answer of an LLM endpoint said about its limits, whatever the API.

Each API's transport (`clients.transports.openai_send`,
`clients.transports.anthropic_send`) reads its own headers and error body
into one `Learned`, keyed by the limit's name as the client's interface
names it (`clients.infra.llm_api`: "requests", "tokens", "input_tokens",
"output_tokens"), so a client that learns limits reads every API alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clients.infra.attempts import Reply, classify
from clients.transports.json_post import message


@dataclass(frozen=True, slots=True)
class Learned:
    """What one answer said about the limits; empty where it said nothing.

    - `limits`: each limit's amount per minute (the bucket's capacity);
    - `remaining`: what the answer said is left of each (Anthropic rounds
      token remainders to the nearest thousand);
    - `full_in`: wall seconds from the answer until each limit is full again;
    - `wait`: wall seconds a 429 said to wait; `refused_by`: the limit a
      429 named, if it named one;
    - `final`: the refusal is for good (a spend limit, a request too large):
      retrying cannot succeed.
    """

    limits: Mapping[str, int] = field(default_factory=dict)
    remaining: Mapping[str, int] = field(default_factory=dict)
    full_in: Mapping[str, float] = field(default_factory=dict)
    wait: float | None = None
    refused_by: str | None = None
    final: bool = False


@dataclass(frozen=True, slots=True)
class LLMReply(Reply):
    """A `Reply` with what the server said about its limits."""

    learned: Learned = Learned()


def whole(value: str | None) -> int | None:
    """A header's whole number, or None."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def refused(status: int, error: Mapping[str, Any] | None, learned: Learned) -> LLMReply:
    """The reply to an answer other than 200, with what it said of the limits."""
    return LLMReply(
        status,
        classify(status),
        detail=message(error),
        reopens_in=learned.wait,
        final=learned.final,
        learned=learned,
    )
