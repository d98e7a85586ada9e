"""One POST to Gemini's `generateContent` with aiohttp, turned into a `Reply`.

Gemini sends no rate-limit headers: what a client can learn is in a 429's
body (`RESOURCE_EXHAUSTED`), read here into `Refusal`:

- `details[].violations[].quotaId` (`google.rpc.QuotaFailure`) names each quota
  the request broke; `...PerDay...` is the daily one, one that names tokens
  the input-tokens-per-minute one, the others the requests per minute; its
  `quotaValue`, where given, is that quota's limit;
- `details[].retryDelay` (`google.rpc.RetryInfo`) is whole seconds ("47s"),
  while the message says "Please retry in 47.88s": the longer of the two is the
  wait, so a client that obeys it is never early.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from clients.infra.attempts import Reply, classify
from clients.transports.json_post import message, post_json

#: Which quota refused a request: requests or input tokens per minute, requests per day.
QuotaKind = Literal["requests", "tokens", "day"]

API_VERSION = "v1beta"
#: The key presented when the bench gave none (the SDK insists on one, and a server
#: that issued none checks none).
PLACEHOLDER_KEY = "ratebench"
_MESSAGE_WAIT = re.compile(r"retry in (\d+(?:\.\d+)?)(ms|s)\b")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a 429 said: the quotas it names (`kinds`, the day first if named), the
    wall seconds to wait (None if it named none), and each named quota's value
    where its violation states it (`quotaValue`, as Google's do)."""

    kinds: tuple[QuotaKind, ...]
    wait: float | None
    values: tuple[tuple[QuotaKind, int], ...] = ()

    def value(self, kind: QuotaKind) -> int | None:
        return dict(self.values).get(kind)

    @property
    def per_day(self) -> bool:
        return "day" in self.kinds


@dataclass(frozen=True, slots=True)
class GeminiReply(Reply):
    """A `Reply` with what a 429's body said (None for any other answer)."""

    refusal: Refusal | None = None


def quota_kind(quota_id: str) -> QuotaKind:
    """`GenerateRequestsPerDayPerProjectPerModel-FreeTier` -> "day", and so on."""
    if "PerDay" in quota_id:
        return "day"
    if "Token" in quota_id:
        return "tokens"
    return "requests"


def parse_duration(text: object) -> float | None:
    """A protobuf Duration as JSON ("47s", "0.5s") in seconds; None if not one."""
    match = _DURATION.match(str(text).strip()) if isinstance(text, str) else None
    return float(match.group(1)) if match else None


def read_refusal(error: Mapping[str, Any]) -> Refusal:
    """What a 429's `error` object says about the quotas it broke and the wait."""
    kinds: list[QuotaKind] = []
    values: dict[QuotaKind, int] = {}
    waits: list[float] = []
    details = error.get("details")
    for detail in details if isinstance(details, Sequence) else ():
        if not isinstance(detail, Mapping):
            continue
        kind_of = str(detail.get("@type", ""))
        if kind_of.endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or ():
                if isinstance(violation, Mapping):
                    kind = quota_kind(str(violation.get("quotaId", "")))
                    kinds.append(kind)
                    value = str(violation.get("quotaValue", ""))
                    if value.isdigit() and int(value) > 0:
                        values[kind] = int(value)
        elif kind_of.endswith("google.rpc.RetryInfo"):
            delay = parse_duration(detail.get("retryDelay"))
            if delay is not None:
                waits.append(delay)
    said = _MESSAGE_WAIT.search(str(error.get("message") or ""))
    if said:
        waits.append(float(said.group(1)) / (1000 if said.group(2) == "ms" else 1))
    ordered = tuple(sorted(set(kinds), key=("day", "tokens", "requests").index))
    wait = max(waits) if waits else None
    if wait is not None and not (math.isfinite(wait) and wait >= 0):
        wait = None
    return Refusal(ordered, wait, tuple(sorted(values.items())))


def key_headers(api_key: str | None) -> dict[str, str]:
    """The header that presents the key (Gemini's `x-goog-api-key`)."""
    return {"x-goog-api-key": api_key or PLACEHOLDER_KEY}


def generate_url(base: str, model: str) -> str:
    return f"{base}/{API_VERSION}/models/{model}:generateContent"


async def send(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]) -> Reply:
    """POST `body` to `url` once on `session` (its headers carry the key); the session's
    timeout bounds the attempt. An ok reply carries the answer's JSON."""
    return await post_json(
        session,
        url,
        body,
        lambda status, _, error: _refused(status, error),
        lambda status, _, answer: GeminiReply(status, "ok", answer),
    )


def _refused(status: int, error: Mapping[str, Any] | None) -> GeminiReply:
    refusal = read_refusal(error) if status == 429 and error is not None else None
    return GeminiReply(
        status,
        classify(status),
        detail=message(error),
        reopens_in=refusal.wait if refusal is not None else None,
        refusal=refusal,
    )
