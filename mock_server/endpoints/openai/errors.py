"""What the endpoint says about its limits: headers and error bodies, in
OpenAI's words.

Headers on every answer of `POST /v1/chat/completions` (unless
`--no-ratelimit-headers`):

- `x-ratelimit-limit-requests`, `x-ratelimit-limit-tokens`: the per-minute
  limits, as configured (with `--quantize`, still per minute);
- `x-ratelimit-remaining-requests`, `x-ratelimit-remaining-tokens`: what is
  left in the current window (with `--quantize`, in the current slice), or
  in the token bucket (whole units);
- `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens`: the time until
  that limit is back to full (the window's end, or the bucket full again),
  in OpenAI's duration format (`20ms`, `1s`, `6m0s`);
- on a 429 that waiting can cure, `retry-after` (whole seconds, rounded up)
  and `retry-after-ms`: the time until this very request would fit both
  limits if nothing else arrived, rounded up to the millisecond plus one
  (so that a client waiting exactly that long finds the room).

Every duration is wall-clock time, the scenario's time scale applied: at
time scale 0.1 a minute's window resets in at most `6s`. The limits
themselves (60 RPM) are the scenario's.

A request too large for the token limit gets no `retry-after` (no wait
helps) and `x-should-retry: false`, which OpenAI's SDKs obey.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mock_server.endpoints.faults import ErrorAnswer, FaultShape
from mock_server.endpoints.openai.settings import OpenAISettings, format_seconds
from mock_server.limits import Decision, LimitState

#: The organization a 429 names, as OpenAI's name the caller's.
ORGANIZATION = "org-ratebench"
RATE_LIMITS_PAGE = "Visit https://platform.openai.com/account/rate-limits to learn more."


def format_duration(seconds: float) -> str:
    """OpenAI's (Go's) duration format, to the millisecond: 20ms, 1s, 1.5s,
    6m0s, 1h0m0s; anything positive below a millisecond is 1ms."""
    ms = math.ceil(seconds * 1000 - 1e-6)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    whole, frac = divmod(rest, 1000)
    return text + (f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)) + "s"


def retry_after_ms(seconds: float) -> int:
    """Milliseconds to tell a client to wait: rounded up, plus one."""
    return math.ceil(seconds * 1000 - 1e-6) + 1


def ratelimit_headers(
    settings: OpenAISettings, requests: LimitState, tokens: LimitState
) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(settings.rpm),
        "x-ratelimit-limit-tokens": str(settings.tpm),
        "x-ratelimit-remaining-requests": str(requests.remaining),
        "x-ratelimit-remaining-tokens": str(tokens.remaining),
        "x-ratelimit-reset-requests": format_duration(requests.reset),
        "x-ratelimit-reset-tokens": format_duration(tokens.reset),
    }


def refusal_headers(decision: Decision) -> dict[str, str]:
    """What a 429 adds to the rate-limit headers."""
    if decision.retry_after is None:
        return {"x-should-retry": "false"}
    ms = retry_after_ms(decision.retry_after)
    return {"retry-after": str(math.ceil(ms / 1000)), "retry-after-ms": str(ms)}


def error_body(
    message: str, kind: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _quantized(settings: OpenAISettings, per_slice: int, unit: str) -> str:
    if settings.bucket:
        return f" This server enforces it as a bucket of {per_slice} {unit}, refilled continuously."
    if settings.quantize is None:
        return ""
    return (
        f" This server enforces it as {per_slice} {unit} per {format_seconds(settings.quantize)}."
    )


def rate_limit_body(settings: OpenAISettings, model: str, decision: Decision) -> dict[str, Any]:
    """The 429 body, worded as OpenAI words it."""
    org = ORGANIZATION
    if decision.refused == "too-large":
        message = (
            f"Request too large for {model} in organization {org} on tokens per min (TPM): "
            f"Limit {settings.tpm}, Requested {decision.charge}. The input or output tokens "
            f"must be reduced in order to run successfully. {RATE_LIMITS_PAGE}"
            + _quantized(settings, decision.tokens.limit, "tokens")
        )
        return error_body(message, "tokens", None, "rate_limit_exceeded")
    wait = format_duration(retry_after_ms(decision.retry_after or 0.0) / 1000)
    if decision.refused == "requests":
        state, what, limit, requested, unit = (
            decision.requests,
            "requests per min (RPM)",
            settings.rpm,
            1,
            "requests",
        )
    else:
        state, what, limit, requested, unit = (
            decision.tokens,
            "tokens per min (TPM)",
            settings.tpm,
            decision.charge,
            "tokens",
        )
    message = (
        f"Rate limit reached for {model} in organization {org} on {what}: Limit {limit}, "
        f"Used {state.limit - state.remaining}, Requested {requested}. Please try again in "
        f"{wait}. {RATE_LIMITS_PAGE}" + _quantized(settings, state.limit, unit)
    )
    return error_body(message, unit, None, "rate_limit_exceeded")


API_KEYS_PAGE = "https://platform.openai.com/account/api-keys"


def masked_key(key: str) -> str:
    """A key as OpenAI echoes an unknown one: its first 8 and last 4
    characters, a star for each one between; a key of 12 or fewer, whole."""
    return key if len(key) <= 12 else key[:8] + "*" * (len(key) - 12) + key[-4:]


def auth_error_body(key: str | None) -> dict[str, Any]:
    """The 401 body of a missing or unknown key, worded as OpenAI words it
    (a missing key has no error code; an unknown one is `invalid_api_key`)."""
    if key is None:
        message = (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
            "as the password field (with blank username) if you're accessing the API from your "
            "browser and are prompted for a username and password. You can obtain an API key "
            f"from {API_KEYS_PAGE}."
        )
        return error_body(message, "invalid_request_error")
    message = (
        f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
        f"{API_KEYS_PAGE}."
    )
    return error_body(message, "invalid_request_error", None, "invalid_api_key")


# -- the shared faults (mock_server.endpoints.faults), in OpenAI's words -----------

QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
OVERLOADED_MESSAGE = "The server is overloaded or not ready yet."


def overloaded_answer() -> ErrorAnswer:
    """503 `server_error`: what OpenAI answers when its servers are busy."""
    return ErrorAnswer(503, error_body(OVERLOADED_MESSAGE, "server_error"), {})


def quota_answer() -> ErrorAnswer:
    """429 `insufficient_quota`: the money has run out; no retry-after."""
    return ErrorAnswer(
        429, error_body(QUOTA_MESSAGE, "insufficient_quota", None, "insufficient_quota"), {}
    )


def stream_error_event() -> bytes:
    """The chunk that ends a stream that failed: the SDKs raise on a chunk with `error`."""
    body = error_body("The server had an error while processing your request.", "server_error")
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


OPENAI_FAULTS = FaultShape(overloaded_answer, quota_answer, stream_error_event)
