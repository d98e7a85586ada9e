"""One HTTP attempt with requests, turned into a `Reply` (never an exception)."""

from __future__ import annotations

import requests

from clients.infra.attempts import Reply, classify, reopens_in


def send(url: str, timeout: float) -> Reply:
    """GET `url` once, blocking the calling thread for at most about `timeout` seconds.

    Like the write-up, a plain `requests.get`: a new connection per attempt,
    no session shared between threads. requests applies `timeout` to the
    connect and to each read; the mock server sends its whole reply at once,
    so this bounds the attempt.
    """
    try:
        response = requests.get(url, timeout=timeout)
    except requests.Timeout as exc:
        return Reply(None, "timeout", detail=repr(exc))
    except requests.RequestException as exc:
        return Reply(None, "error", detail=repr(exc))
    status = response.status_code
    if status != 200:
        return Reply(status, classify(status), reopens_in=reopens_in(response.headers))
    try:
        body = response.json()
    except ValueError as exc:  # requests' JSONDecodeError is one
        return Reply(status, "error", detail=repr(exc))
    return Reply(status, "ok", body)
