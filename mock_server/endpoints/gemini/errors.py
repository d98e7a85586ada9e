"""What the Gemini endpoint says when it refuses: Google's error bodies.

Every error is `{"error": {"code", "message", "status", "details"?}}`
(google.rpc.Status in JSON). No rate-limit header is ever sent: Google
sends none, and a client learns only from a 429's body:

- `QuotaFailure`: one violation per quota the request did not fit, each
  with Google's `quotaMetric`, `quotaId` (`...PerMinute...` or
  `...PerDay...`, requests or input tokens), `quotaDimensions` (location,
  model) and `quotaValue`;
- `Help`: the rate-limit page;
- `RetryInfo`: `retryDelay`, whole seconds as Google gives it ("47s"),
  while the message says the wait to the hundredth and more ("Please
  retry in 47.88s."): a client that waits `retryDelay` alone comes back a
  little early. Under a time scale the whole seconds are the scenario's,
  shown in wall seconds ("0.47s" at 0.01), so the same truncation holds at
  every scale.

A request too large for the input-token quota gets the violation and no
wait at all (no `RetryInfo`, no "Please retry in"): waiting never helps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from mock_server.endpoints.faults import ErrorAnswer, FaultShape

RATE_LIMITS_PAGE = "https://ai.google.dev/gemini-api/docs/rate-limits"
USAGE_PAGE = "https://ai.dev/rate-limit"
SERVICE = "generativelanguage.googleapis.com"

#: Each quota as a 429 names it: (quotaMetric, quotaId).
QUOTA_NAMES: dict[str, tuple[str, str]] = {
    "rpm": (
        f"{SERVICE}/generate_content_requests",
        "GenerateRequestsPerMinutePerProjectPerModel",
    ),
    "itpm": (
        f"{SERVICE}/generate_content_input_token_count",
        "GenerateContentInputTokensPerModelPerMinute",
    ),
    "rpd": (
        f"{SERVICE}/generate_content_requests",
        "GenerateRequestsPerDayPerProjectPerModel",
    ),
}


def error_body(
    code: int, status: str, message: str, details: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def invalid_argument(message: str) -> dict[str, Any]:
    return error_body(400, "INVALID_ARGUMENT", message)


def not_found(message: str) -> dict[str, Any]:
    return error_body(404, "NOT_FOUND", message)


def missing_key() -> dict[str, Any]:
    """403: a request with no key, to a server that issued keys."""
    return error_body(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


def invalid_key() -> dict[str, Any]:
    """400: a key the server did not issue."""
    message = "API key not valid. Please pass a valid API key."
    return error_body(
        400,
        "INVALID_ARGUMENT",
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": SERVICE},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ],
    )


def format_seconds(seconds: float) -> str:
    """A wait as the message gives it: up to nine decimals, no trailing zeros ("47.88s")."""
    text = f"{max(0.0, seconds):.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def retry_delay(wall: float, time_scale: float) -> float:
    """The wall seconds `retryDelay` says: the wait in whole scenario seconds,
    rounded down as Google's whole seconds are, times the time scale."""
    return math.floor(wall / time_scale + 1e-9) * time_scale


def format_duration(seconds: float) -> str:
    """A google.protobuf.Duration in JSON: "47s", or "0.47s" below whole seconds."""
    return format_seconds(round(seconds, 9))


def quota_exceeded(
    hit: Sequence[str],
    limits: dict[str, int],
    model: str,
    wait: float | None,
    time_scale: float,
) -> dict[str, Any]:
    """The 429 body of a request refused by the quotas `hit` (names of
    `QUOTA_NAMES`), `wait` wall seconds before it would fit (None: never)."""
    lines = "".join(
        f"\n* Quota exceeded for metric: {QUOTA_NAMES[q][0]}, limit: {limits[q]}, model: {model}"
        for q in hit
    )
    message = (
        "You exceeded your current quota, please check your plan and billing details. For "
        f"more information on this error, head to: {RATE_LIMITS_PAGE}. To monitor your "
        f"current usage, head to: {USAGE_PAGE}. {lines}"
    )
    violations = [
        {
            "quotaMetric": QUOTA_NAMES[q][0],
            "quotaId": QUOTA_NAMES[q][1],
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": str(limits[q]),
        }
        for q in hit
    ]
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {"description": "Learn more about Gemini API quotas", "url": RATE_LIMITS_PAGE}
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": violations},
    ]
    if wait is not None:
        message += f"\nPlease retry in {format_seconds(wait)}."
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format_duration(retry_delay(wait, time_scale)),
            }
        )
    return error_body(429, "RESOURCE_EXHAUSTED", message, details)


# -- the shared faults (mock_server.endpoints.faults), in Google's words ------------

OVERLOADED_MESSAGE = "The model is overloaded. Please try again later."
PREPAY_MESSAGE = (
    "Your prepayment credits are depleted. Please go to AI Studio at "
    "https://ai.studio/projects to manage your project and billing. Learn more at "
    "https://ai.google.dev/gemini-api/docs/billing#prepay."
)


def overloaded_answer() -> ErrorAnswer:
    """503 UNAVAILABLE: the model is busy for everyone."""
    return ErrorAnswer(503, error_body(503, "UNAVAILABLE", OVERLOADED_MESSAGE), {})


def prepay_answer() -> ErrorAnswer:
    """402 RESOURCE_EXHAUSTED: the project's prepaid credits are spent. Google
    answered it with a 429 until it moved it to 402, which no SDK retries."""
    return ErrorAnswer(402, error_body(402, "RESOURCE_EXHAUSTED", PREPAY_MESSAGE), {})


def stream_error_event() -> bytes:
    """The event that ends a failed stream: an error object, which the SDK raises."""
    body = error_body(503, "UNAVAILABLE", OVERLOADED_MESSAGE)
    return f"data: {json.dumps(body, separators=(',', ':'))}\r\n\r\n".encode()


GEMINI_FAULTS = FaultShape(overloaded_answer, prepay_answer, stream_error_event)
