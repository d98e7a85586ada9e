"""One POST to the OpenAI-compatible endpoint with aiohttp, turned into a `Reply`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import aiohttp

from clients.infra.attempts import Reply, classify


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
    status: int | None = None
    try:
        async with session.post(url, json=body) as response:
            status = response.status
            if status != 200:
                await response.read()  # the error body: the connection goes back clean
                return Reply(status, classify(status), reopens_in=retry_after(response.headers))
            return Reply(status, "ok", await response.json())
    except TimeoutError as exc:  # aiohttp's timeouts subclass it
        return Reply(status, "timeout", detail=repr(exc))
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Reply(status, "error", detail=repr(exc))
