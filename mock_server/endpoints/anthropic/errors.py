"""What the Messages endpoint says about its limits and errors, in Anthropic's words.

Every answer carries `request-id` (`req_...`); every error body is
`{"type": "error", "error": {"type": KIND, "message": ...}, "request_id": ...}`.

Headers on every answer of `POST /v1/messages` (unless
`--no-ratelimit-headers`), from the buckets as the decision left them:

- `anthropic-ratelimit-requests-{limit,remaining,reset}`, and the same for
  `input-tokens` and `output-tokens`: the per-minute limit; what the bucket
  holds (whole requests; tokens rounded to the nearest thousand, as
  Anthropic documents); when it is full again, an RFC 3339 time;
- `anthropic-ratelimit-tokens-*`: the token bucket, input or output, that
  is the more restrictive now (the smaller share left);
- on a 429 that waiting cures, `retry-after`: the wait until this request
  fits, in the scenario's whole seconds (rounded up, as Anthropic's are
  whole), multiplied by the time scale: at 0.1 a wait of 2 s is `0.2`.

Anthropic's reset times are whole seconds; these carry milliseconds, so that
a compressed time scale stays readable (still RFC 3339).
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from typing import Any

from mock_server.endpoints.faults import ErrorAnswer, FaultShape
from mock_server.limits import LimitState

#: The bucket names, as the headers and the log name them.
BUCKETS = ("requests", "input-tokens", "output-tokens")


def request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


def error_body(kind: str, message: str, rid: str, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message, **extra}
    return {"type": "error", "error": error, "request_id": rid}


def rfc3339(wall: float) -> str:
    """`time.time()` as RFC 3339 in UTC, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rounded_thousand(amount: int) -> int:
    """To the nearest thousand, halves up (Anthropic rounds token counts so)."""
    return math.floor(amount / 1000 + 0.5) * 1000


def ratelimit_headers(
    states: dict[str, LimitState], limits: dict[str, int], now: float
) -> dict[str, str]:
    """The `anthropic-ratelimit-*` headers; `states` by bucket name, as of `now` (time.time())."""
    headers: dict[str, str] = {}
    for name in BUCKETS:
        state = states[name]
        remaining = state.remaining if name == "requests" else rounded_thousand(state.remaining)
        headers[f"anthropic-ratelimit-{name}-limit"] = str(limits[name])
        headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
        headers[f"anthropic-ratelimit-{name}-reset"] = rfc3339(now + state.reset)
    tighter = min(
        ("input-tokens", "output-tokens"), key=lambda n: states[n].remaining / states[n].limit
    )
    for part in ("limit", "remaining", "reset"):
        headers[f"anthropic-ratelimit-tokens-{part}"] = headers[
            f"anthropic-ratelimit-{tighter}-{part}"
        ]
    return headers


def retry_after(wall_wait: float, time_scale: float) -> str:
    """`retry-after`: the scenario's whole seconds, rounded up, times the time scale."""
    whole = max(1, math.ceil(wall_wait / time_scale - 1e-9))
    return f"{whole * time_scale:g}"


WHAT = {
    "requests": "requests",
    "input-tokens": "input tokens",
    "output-tokens": "output tokens",
}


def rate_limit_message(refused: str, limit: int, model: str) -> str:
    return (
        f"This request would exceed the rate limit for your organization (ratebench) of "
        f"{limit:,} {WHAT[refused]} per minute. For details, refer to: "
        "https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
        "current usage. Please reduce the prompt length or the maximum tokens requested, or "
        f"try again later. (model: {model})"
    )


def too_large_message(refused: str, limit: int, charge: int) -> str:
    return (
        f"This request asks for {charge:,} {WHAT[refused]}, more than your organization's "
        f"whole rate limit of {limit:,} {WHAT[refused]} per minute: it can never be admitted. "
        "Please reduce the prompt length or the maximum tokens requested."
    )


# -- the shared faults (mock_server.endpoints.faults), in Anthropic's words ---------


def overloaded_answer() -> ErrorAnswer:
    """529 `overloaded_error`: the API is busy for everyone."""
    rid = request_id()
    return ErrorAnswer(529, error_body("overloaded_error", "Overloaded", rid), {"request-id": rid})


def spend_limit_answer() -> ErrorAnswer:
    """The spend-limit 429: a `rate_limit_error` with no `retry-after`, whose
    `error.details.error_code` says why; no wait helps."""
    rid = request_id()
    body = error_body(
        "rate_limit_error",
        "Your organization has reached its spend limit for this month. You can raise it in "
        "the Console's Limits page.",
        rid,
        details={"error_code": "enforced_spend_limit_reached"},
    )
    return ErrorAnswer(429, body, {"request-id": rid})


def stream_error_event() -> bytes:
    """The `error` event that ends a failed stream (the status was 200 already)."""
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return f"event: error\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


ANTHROPIC_FAULTS = FaultShape(overloaded_answer, spend_limit_answer, stream_error_event)
