"""Reading a request set: one request body per line, the OpenAI cookbook's batch
format (written by `python -m bench requests`, described in `bench.records.requests_file`).

Every line is checked as the mock server checks a body
(`mock_server.endpoints.openai.schema`), and its `metadata`, if any, as the
bench reads it, before a single request is sent: a bad line is one error
that names it by its number in the file, not a traceback halfway through a
plan or a run of 400s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mock_server.endpoints.openai.schema import InvalidRequest, parse_request
from mock_server.vocabulary import RatebenchError

HOW_TO_FIX = "fix that line, or write a set with `python -m bench requests`"


class RequestSetError(RatebenchError):
    """A request set that cannot be read or has a bad line; the message says which."""


def read_request_set(path: Path) -> list[dict[str, Any]]:
    """The request bodies of `path`, in order, blank lines skipped.

    RequestSetError names the file and the first bad line (counted from 1, blank
    lines included, as an editor counts them) and what is wrong with it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RequestSetError(f"cannot read the request set {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RequestSetError(
            f"the request set {path} is not UTF-8 text: give a JSONL file, one request "
            "body per line"
        ) from None
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                bodies.append(check_line(line))
            except RequestSetError as exc:
                raise RequestSetError(
                    f"request set {path}, line {number}: {exc}; {HOW_TO_FIX}"
                ) from None
    return bodies


def check_line(line: str) -> dict[str, Any]:
    """One line's body; RequestSetError says what is wrong with it."""
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RequestSetError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(body, dict):
        raise RequestSetError(
            f"{line.strip()[:40]!r} is not a request body: each line is a JSON object "
            '{"model": ..., "messages": [...], ...}'
        )
    try:
        parse_request(line.encode())
    except InvalidRequest as exc:
        raise RequestSetError(f"the server would refuse it: {exc.message.rstrip('.')}") from None
    metadata = body.get("metadata")
    if metadata is None:
        return body
    if not isinstance(metadata, dict):
        raise RequestSetError("'metadata' must be an object, e.g. {\"request\": 0}")
    charge = metadata.get("charge")
    if charge is not None and (not isinstance(charge, int) or isinstance(charge, bool)):
        raise RequestSetError(f"metadata 'charge' {charge!r} is not a whole number of tokens")
    if charge is not None and charge < 0:
        raise RequestSetError(f"metadata 'charge' {charge} is negative")
    return body
