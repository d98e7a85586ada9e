"""The limits every LLM API reads: one group of flags, each API its own budget.

`--rpm`, `--tpm`, `--itpm`, `--otpm`, `--rpd` mean the same on every API
that has that limit: a flag sets it on each of them, and an API keeps its
own default when the flag is not given (`ServerEndpoint.limit_defaults`
says which limits an API reads and its defaults, which `--help` lists).
Each API still keeps its own budget: `--rpm 50` is 50 requests a minute to
`/v1/chat/completions` and 50 more to `/v1/messages`.

A flag no API reads is not offered: `--help` shows only the limits of the
APIs this server answers.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from mock_server.vocabulary import RatebenchError

#: The most requests or tokens per minute (or day) an API takes: a thousand
#: times the largest published tier, and still exact as a float.
MAX_PER_MINUTE = 10**12

#: Each limit flag: what it counts, and what one unit is called.
LIMITS: dict[str, tuple[str, str]] = {
    "rpm": ("requests per minute", "request"),
    "tpm": (
        "tokens per minute, charged at admission: the prompt's estimate plus max_tokens",
        "token",
    ),
    "itpm": ("input tokens per minute, charged at admission", "token"),
    "otpm": ("output tokens per minute (see --otpm-charge)", "token"),
    "rpd": ("requests per day", "request"),
}


def add_llm_limit_arguments(
    parser: argparse.ArgumentParser, defaults: Mapping[str, Mapping[str, int]]
) -> None:
    """The group, on the server's parser; `defaults`: each API's limits and their
    defaults, by API name (an API without LLM limits has none)."""
    offered = [flag for flag in LIMITS if any(flag in d for d in defaults.values())]
    if not offered:
        return
    group = parser.add_argument_group(
        "LLM limits",
        "Each sets that limit on every API that has it (the APIs listed after it, with "
        "their defaults); each API keeps a budget of its own.",
    )
    for flag in offered:
        meaning, _ = LIMITS[flag]
        users = ", ".join(f"{api} {d[flag]:,}" for api, d in defaults.items() if flag in d)
        group.add_argument(
            f"--{flag}", type=int, default=None, metavar="N", help=f"{meaning} (default: {users})"
        )


def check_per_minute(name: str, amount: int) -> None:
    """RatebenchError if `amount` a minute is more than the server takes."""
    if amount > MAX_PER_MINUTE:
        digits = str(amount)
        shown = digits if len(digits) <= 16 else f"{digits[:8]}... ({len(digits)} digits)"
        raise RatebenchError(
            f"{name} {shown} is more than {MAX_PER_MINUTE:.0e} a minute: give a limit a real "
            "API could have, e.g. 10000"
        )


def llm_limit(args: argparse.Namespace, flag: str, default: int) -> int:
    """The limit `--FLAG` sets for an API whose own default is `default`;
    RatebenchError for one no request could meet."""
    value = getattr(args, flag, None)
    if value is None:
        return default
    _, unit = LIMITS[flag]
    if value < 1:
        raise RatebenchError(f"--{flag} {value} allows no {unit}: use at least 1")
    check_per_minute(f"--{flag}", value)
    return int(value)
