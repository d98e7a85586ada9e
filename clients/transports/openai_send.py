"""One POST to the OpenAI-compatible endpoint with aiohttp, turned into a `Reply`.

The reply also says what the server told about its limits
(`clients.transports.learned.Learned`): the `x-ratelimit-*` headers when it
sends them, and a 429's body, which names the limit that refused it ("... on
requests per min (RPM): Limit 20, Used 20, Requested 1. Please try again in
5.95s.") even when the headers are off.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import aiohttp

from clients.infra.attempts import Reply
from clients.transports.json_post import post_json
from clients.transports.learned import Learned, LLMReply, refused, whole

_GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")
_BODY_LIMIT = re.compile(r"per min \((RPM|TPM)\): Limit (\d+)")
_BODY_WAIT = re.compile(r"try again in (\S+?)\.(?:\s|$)")


def parse_duration(text: str) -> float | None:
    """OpenAI's (Go's) duration format (`20ms`, `1.5s`, `6m0s`) in seconds; None if not one."""
    match = _GO_DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds, millis = match.groups()
    return (
        int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + float(seconds or 0)
        + int(millis or 0) / 1000
    )


def learn(headers: Mapping[str, str], error: Mapping[str, Any] | None) -> Learned:
    """What the headers and, for an error, its body say about the limits."""
    limits: dict[str, int] = {}
    remaining: dict[str, int] = {}
    full_in: dict[str, float] = {}
    for name in ("requests", "tokens"):
        if (limit := whole(headers.get(f"x-ratelimit-limit-{name}"))) is not None:
            limits[name] = limit
        if (left := whole(headers.get(f"x-ratelimit-remaining-{name}"))) is not None:
            remaining[name] = left
        reset = headers.get(f"x-ratelimit-reset-{name}")
        if reset is not None and (seconds := parse_duration(reset)) is not None:
            full_in[name] = seconds
    wait = retry_after(headers)
    refused_by = None
    final = False
    if error is not None:
        message = str(error.get("message") or "")
        kind = error.get("type")
        refused_by = kind if kind in ("requests", "tokens") else None
        found = _BODY_LIMIT.search(message)
        if found:
            limits.setdefault(
                "requests" if found.group(1) == "RPM" else "tokens", int(found.group(2))
            )
        said = _BODY_WAIT.search(message)
        if wait is None and said:
            wait = parse_duration(said.group(1))
        final = headers.get("x-should-retry") == "false"
    return Learned(limits, remaining, full_in, wait, refused_by, final)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Wall seconds a 429 said to wait: `retry-after-ms` (OpenAI's, exact) first, else
    `retry-after` (whole or fractional seconds); None if neither is a number >= 0."""
    for name, unit in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * unit
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


async def send(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]) -> Reply:
    """POST `body` to `url` once on `session`; the session's timeout bounds the attempt.

    An ok reply carries the completion's JSON; a 200 whose body is not JSON
    is an error, as for `/chat`.
    """
    return await post_json(
        session,
        url,
        body,
        lambda status, headers, error: refused(status, error, learn(headers, error)),
        lambda status, headers, answer: LLMReply(
            status, "ok", answer, learned=learn(headers, None)
        ),
    )
