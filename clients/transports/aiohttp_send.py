"""One HTTP attempt with aiohttp, turned into a `Reply` (never an exception)."""

from __future__ import annotations

import aiohttp

from clients.infra.attempts import Reply, classify, reopens_in


async def send(session: aiohttp.ClientSession, url: str) -> Reply:
    """GET `url` once on `session`; the session's timeout bounds the attempt.

    A 200 whose body is not JSON counts as an error, as it did for the
    write-up's `await response.json()` inside its `try`.
    """
    status: int | None = None
    try:
        async with session.get(url) as response:
            status = response.status
            if status != 200:
                return Reply(status, classify(status), reopens_in=reopens_in(response.headers))
            body = await response.json()
            return Reply(status, "ok", body)
    except TimeoutError as exc:  # aiohttp's timeouts subclass it
        return Reply(status, "timeout", detail=repr(exc))
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ClientError covers refused connections and ContentTypeError;
        # ValueError a body that is not valid JSON.
        return Reply(status, "error", detail=repr(exc))
