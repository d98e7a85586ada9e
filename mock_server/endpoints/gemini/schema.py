"""The body of `generateContent` (and its stream, and `countTokens`), as the
endpoint reads it, and the input tokens a request is charged.

Read: `contents` (a list of `{"role": "user" | "model", "parts": [{"text":
...}, ...]}`, required and not empty), `systemInstruction` (`{"parts":
[...]}`), and in `generationConfig` `maxOutputTokens` (at least 1, at most
the model's output limit) and `candidateCount` (1 to 8). Every other field
(tools, safetySettings, temperature, ...) is accepted and ignored. A body
that is not a JSON object, or one of those fields of the wrong type or
value, is an `InvalidRequest`: Google's 400 `INVALID_ARGUMENT`.

Input tokens (`input_tokens`), without a tokenizer, as the OpenAI-compatible
endpoint estimates them: every text part of the contents and of the system
instruction at one token per 4 characters, rounded up, summed; at least 1.
That is the request's `promptTokenCount`, and its charge against the
input-tokens-per-minute quota. A client (or the bench) that wants to know
its charge calls `input_tokens` on the body it sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mock_server.tokens import text_tokens

ROLES = ("user", "model")


class InvalidRequest(ValueError):
    """A body Google refuses with 400 INVALID_ARGUMENT; the message is Google's kind of words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """What the endpoint uses of a valid body."""

    input_tokens: int
    max_output_tokens: int | None  # None: not given
    candidate_count: int


def _texts(content: Any, where: str) -> list[str]:
    """The text parts of one `Content` ({"role", "parts"}), checked."""
    if not isinstance(content, Mapping):
        raise InvalidRequest(f"Invalid value at '{where}', expected an object (Content).")
    role = content.get("role")
    if role is not None and role not in ROLES and not where.startswith("system"):
        raise InvalidRequest(
            f"Please use a valid role: {', '.join(ROLES)}. Got '{role}' at '{where}.role'."
        )
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise InvalidRequest(
            f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty."
        )
    texts = []
    for i, part in enumerate(parts):
        if not isinstance(part, Mapping):
            raise InvalidRequest(
                f"Invalid value at '{where}.parts[{i}]', expected an object (Part)."
            )
        text = part.get("text")
        if text is not None and not isinstance(text, str):
            raise InvalidRequest(
                f"Invalid value at '{where}.parts[{i}].text' (TYPE_STRING), {json.dumps(text)}"
            )
        texts.append(text or "")
    return texts


def _whole(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"Invalid value at 'generation_config.{name}' (TYPE_INT32), {json.dumps(value)}"
        )
    if not low <= value <= high:
        raise InvalidRequest(
            f"* GenerateContentRequest.generation_config.{name}: must be from {low} to {high} "
            f"(got {value})."
        )
    return value


def request_texts(body: Mapping[str, Any]) -> list[str]:
    """Every text of a request body: its contents' and its system instruction's
    (InvalidRequest if they are not as Google takes them)."""
    contents = body.get("contents")
    if contents is None or contents == []:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
    if isinstance(contents, Mapping):
        contents = [contents]
    if not isinstance(contents, list):
        raise InvalidRequest("Invalid value at 'contents', expected a list of Content.")
    texts = [t for i, c in enumerate(contents) for t in _texts(c, f"contents[{i}]")]
    system = body.get("systemInstruction", body.get("system_instruction"))
    if system is not None:
        texts += _texts(system, "system_instruction")
    return texts


def input_tokens(body: Mapping[str, Any]) -> int:
    """The input tokens of a `generateContent` body: its charge against the
    per-minute input-token quota and its `promptTokenCount` (see the module)."""
    return max(1, sum(text_tokens(t) for t in request_texts(body)))


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"Invalid JSON payload received. {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            "Invalid JSON payload received. Expected an object (GenerateContentRequest)."
        )
    return body


def parse_request(raw: bytes, output_token_limit: int, max_candidates: int) -> GenerateRequest:
    """The validated request, or InvalidRequest (never anything else)."""
    body = parse_body(raw)
    tokens = input_tokens(body)
    config = body.get("generationConfig", body.get("generation_config")) or {}
    if not isinstance(config, Mapping):
        raise InvalidRequest("Invalid value at 'generation_config', expected an object.")
    max_output = _whole(
        config.get("maxOutputTokens", config.get("max_output_tokens")),
        "max_output_tokens",
        1,
        output_token_limit,
    )
    count = _whole(
        config.get("candidateCount", config.get("candidate_count")),
        "candidate_count",
        1,
        max_candidates,
    )
    return GenerateRequest(tokens, max_output, count or 1)


def count_tokens_request(raw: bytes) -> int:
    """`countTokens`' body: `contents` (and a system instruction), or a whole
    `generateContentRequest`; its input tokens."""
    body = parse_body(raw)
    inner = body.get("generateContentRequest")
    return input_tokens(inner if isinstance(inner, Mapping) else body)
