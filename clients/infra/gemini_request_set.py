"""A request set for Gemini's `generateContent`: one body per line, as POSTed.

The same JSONL layout as the OpenAI-compatible endpoint's set
(`clients.infra.request_set`), in Gemini's body format:

    {"contents": [{"role": "user", "parts": [{"text": "..."}]}],
     "generationConfig": {"maxOutputTokens": 120},
     "metadata": {"request": 0, "model": "gemini-2.5-flash",
                  "prompt_tokens": 212, "charge": 212}}

`metadata` is taken off before sending (Gemini refuses a field it does not
know); it names the model (Gemini's is in the URL, not the body) and the
request's charge against the input-tokens-per-minute quota: its input tokens,
as the server counts them (`mock_server.endpoints.gemini.schema.input_tokens`),
since Gemini's "TPM" counts input tokens only. Every line is checked as the
server checks a body before a single request is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.config import ClientConfig, ConfigError
from clients.infra.request_set import RequestSetError
from clients.infra.request_set import read_request_set as read_lines
from mock_server.endpoints.gemini.schema import InvalidRequest, input_tokens, parse_request
from mock_server.endpoints.gemini.settings import MAX_CANDIDATES, OUTPUT_TOKEN_LIMIT

#: The model a set names unless told otherwise.
DEFAULT_MODEL = "gemini-2.5-flash"


@dataclass(frozen=True, slots=True)
class GeminiRequest:
    """One line of the set: its index, the model, the body to POST, its charge if stated."""

    index: int
    model: str
    body: dict[str, Any]
    charge: int | None


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """The input tokens of a body as the server counts them (its own function): its
    charge against the ITPM, and its `promptTokenCount`."""
    return input_tokens(body)


def max_output_tokens(body: Mapping[str, Any]) -> int | None:
    config = body.get("generationConfig")
    value = config.get("maxOutputTokens") if isinstance(config, Mapping) else None
    return value if isinstance(value, int) else None


def check_line(line: str) -> dict[str, Any]:
    """One line's body; RequestSetError says what is wrong with it."""
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RequestSetError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(body, dict):
        raise RequestSetError(
            f"{line.strip()[:40]!r} is not a request body: each line is a JSON object "
            '{"contents": [...], ...}'
        )
    try:
        parse_request(line.encode(), OUTPUT_TOKEN_LIMIT, MAX_CANDIDATES)
    except InvalidRequest as exc:
        raise RequestSetError(f"the server would refuse it: {exc.message.rstrip('.')}") from None
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise RequestSetError("'metadata' must be an object, e.g. {\"request\": 0}")
        charge = metadata.get("charge")
        if charge is not None and (
            not isinstance(charge, int) or isinstance(charge, bool) or charge < 0
        ):
            raise RequestSetError(f"metadata 'charge' {charge!r} is not a count of tokens")
        model = metadata.get("model")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise RequestSetError(f"metadata 'model' {model!r} is not a model's name")
    return body


def read_request_set(path: Path) -> list[dict[str, Any]]:
    """The bodies of `path`, in order, blank lines skipped, each checked as the server
    checks a body; RequestSetError names the first bad line."""
    return read_lines(path, check_line)


def split(index: int, body: dict[str, Any]) -> GeminiRequest:
    """A body of the set as sent: its metadata taken off, its model and charge kept."""
    body = dict(body)
    metadata = body.pop("metadata", None) or {}
    charge = metadata.get("charge")
    model = metadata.get("model") or DEFAULT_MODEL
    return GeminiRequest(index, str(model), body, int(charge) if charge is not None else None)


def load_request_set(config: ClientConfig) -> list[GeminiRequest]:
    """The first `config.n` requests of `config.requests_file`; ConfigError if it is
    missing, unreadable or shorter than that."""
    if config.requests_file is None:
        raise ConfigError(
            "this client sends a request set: give one (write it with "
            "`python -m bench requests --api gemini --n N --out FILE`)"
        )
    path = Path(config.requests_file)
    try:
        bodies = read_request_set(path)
    except RequestSetError as exc:
        raise ConfigError(str(exc)) from None
    if len(bodies) < config.n:
        raise ConfigError(f"the request set {path} has {len(bodies)} requests, not {config.n}")
    return [split(i, body) for i, body in enumerate(bodies[: config.n])]
