"""One POST to Anthropic's `/v1/messages` with aiohttp, turned into a `Reply`.

The reply also says what the server told about its three limits
(`clients.transports.learned.Learned`): the `anthropic-ratelimit-*` headers
(each limit's `-limit`, its `-remaining`, rounded to the nearest thousand
for tokens, and its `-reset`, the RFC 3339 instant the bucket is full
again), a 429's `retry-after` (whole seconds), and a 429's body, which
names the limit it hit ("... rate limit of 50,000 input tokens per
minute ...") even when the headers are off. A spend-limit 429 (its
`error.details.error_code` is `enforced_spend_limit_reached`, and no
`retry-after`) and a refusal sent with `x-should-retry: false` are final:
retrying cannot succeed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from clients.infra.attempts import Reply
from clients.transports.json_post import post_json
from clients.transports.learned import Learned, LLMReply, refused, whole
from clients.transports.openai_send import retry_after

#: The version every request names, as the SDK sends it.
ANTHROPIC_VERSION = "2023-06-01"
#: The header's name of each limit, by the interface's name (`clients.infra.llm_api`).
HEADER_NAMES = {
    "requests": "requests",
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
}
SPEND_LIMIT = "enforced_spend_limit_reached"
_BODY_LIMIT = re.compile(
    r"of ([\d,]+) (requests|input tokens|output tokens) per minute", re.IGNORECASE
)


def parse_rfc3339(text: str) -> float | None:
    """An RFC 3339 instant (`2026-12-07T01:30:05Z`, fractions allowed) as seconds of
    `time.time()`; None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def learn(
    headers: Mapping[str, str],
    error: Mapping[str, Any] | None,
    now: Callable[[], float] = time.time,
) -> Learned:
    """What the headers and, for an error, its body say about the limits; `now`: the
    wall clock the RFC 3339 resets are read against."""
    limits: dict[str, int] = {}
    remaining: dict[str, int] = {}
    full_in: dict[str, float] = {}
    for name, header in HEADER_NAMES.items():
        prefix = f"anthropic-ratelimit-{header}"
        if (limit := whole(headers.get(f"{prefix}-limit"))) is not None:
            limits[name] = limit
        if (left := whole(headers.get(f"{prefix}-remaining"))) is not None:
            remaining[name] = left
        reset = headers.get(f"{prefix}-reset")
        if reset is not None and (at := parse_rfc3339(reset)) is not None:
            full_in[name] = max(0.0, at - now())
    wait = retry_after(headers)
    refused_by = None
    final = headers.get("x-should-retry") == "false"
    if error is not None:
        found = _BODY_LIMIT.search(str(error.get("message") or ""))
        if found:
            refused_by = found.group(2).replace(" ", "_")
            limits.setdefault(refused_by, int(found.group(1).replace(",", "")))
        details = error.get("details")
        if isinstance(details, Mapping) and details.get("error_code") == SPEND_LIMIT:
            final = True
    return Learned(limits, remaining, full_in, wait, refused_by, final)


def request_headers(api_key: str | None) -> dict[str, str]:
    """What every request carries: the key as `x-api-key`, and the API's version."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


async def send(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]) -> Reply:
    """POST `body` to `url` once on `session`; the session's timeout bounds the attempt.

    An ok reply carries the message's JSON; a 200 whose body is not JSON is an error.
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
