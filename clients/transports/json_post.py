"""One POST of a JSON body to an LLM endpoint, turned into a `Reply` (never an
exception): the frame every API's transport shares (`clients.transports.openai_send`,
`.anthropic_send`, `.gemini_send`), each reading its own refusals and answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from clients.infra.attempts import Reply

#: The reply to an answer other than 200: from its status, its headers and the
#: `error` object of its body (None if the body had none).
Refused = Callable[[int, Mapping[str, str], Mapping[str, Any] | None], Reply]
#: The reply to a 200: from its status, its headers and its body's JSON.
Answered = Callable[[int, Mapping[str, str], Any], Reply]


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: Mapping[str, Any],
    refused: Refused,
    answered: Answered,
) -> Reply:
    """POST `body` to `url` once on `session`; the session's timeout bounds the attempt.
    A 200 whose body is not JSON is an error, as for `/chat`."""
    status: int | None = None
    try:
        async with session.post(url, json=body) as response:
            status = response.status
            if status != 200:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                error = payload.get("error") if isinstance(payload, dict) else None
                return refused(status, response.headers, error if isinstance(error, dict) else None)
            return answered(status, response.headers, await response.json())
    except TimeoutError as exc:  # aiohttp's timeouts subclass it
        return Reply(status, "timeout", detail=repr(exc))
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Reply(status, "error", detail=repr(exc))


def message(error: Mapping[str, Any] | None) -> str:
    """The `message` of an error object, or nothing."""
    return str(error.get("message") or "") if error else ""
