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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mock_server.endpoints.openai.schema import InvalidRequest, parse_request
from mock_server.vocabulary import RatebenchError

HOW_TO_FIX = "fix that line, or write a set with `python -m bench requests`"


class RequestSetError(RatebenchError):
    """A request set that cannot be read or has a bad line; the message says which."""


def read_request_set(
    path: Path, check: Callable[[str], dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The request bodies of `path`, in order, blank lines skipped; each line checked
    by `check` (an API's `check_line`, `clients.infra.llm_api`; OpenAI's by default).

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
                bodies.append((check or check_openai_line)(line))
            except RequestSetError as exc:
                raise RequestSetError(
                    f"request set {path}, line {number}: {exc}; {HOW_TO_FIX}"
                ) from None
    return bodies


def _object(line: str) -> dict[str, Any]:
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RequestSetError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(body, dict):
        raise RequestSetError(
            f"{line.strip()[:40]!r} is not a request body: each line is a JSON object "
            '{"model": ..., "messages": [...], ...}'
        )
    return body


def _metadata(body: dict[str, Any], counts: tuple[str, ...]) -> dict[str, Any]:
    metadata = body.get("metadata")
    if metadata is None:
        return body
    if not isinstance(metadata, dict):
        raise RequestSetError("'metadata' must be an object, e.g. {\"request\": 0}")
    for key in counts:
        value = metadata.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise RequestSetError(f"metadata '{key}' {value!r} is not a whole number of tokens")
        if value is not None and value < 0:
            raise RequestSetError(f"metadata '{key}' {value} is negative")
    return body


def check_openai_line(line: str) -> dict[str, Any]:
    """One line's body for `/v1/chat/completions`; RequestSetError says what is wrong."""
    body = _object(line)
    try:
        parse_request(line.encode())
    except InvalidRequest as exc:
        raise RequestSetError(f"the server would refuse it: {exc.message.rstrip('.')}") from None
    return _metadata(body, ("charge",))


def check_anthropic_line(line: str) -> dict[str, Any]:
    """One line's body for Anthropic's `/v1/messages`, checked as its server checks
    one (`mock_server.endpoints.anthropic.schema`); RequestSetError says what is
    wrong. Its `metadata` is the set's own (`{request, input_tokens}`), taken off
    before sending, as for OpenAI's sets."""
    from mock_server.endpoints.anthropic.schema import InvalidRequest as Refused
    from mock_server.endpoints.anthropic.schema import parse_message
    from mock_server.endpoints.anthropic.settings import MAX_OUTPUT_TOKENS

    body = _object(line)
    try:
        parse_message(line.encode(), MAX_OUTPUT_TOKENS)
    except Refused as exc:
        raise RequestSetError(f"the server would refuse it: {exc.message.rstrip('.')}") from None
    return _metadata(body, ("input_tokens",))
