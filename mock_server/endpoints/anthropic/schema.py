"""The body of `POST /v1/messages` (and of `count_tokens`), validated as
Anthropic validates it, and the input tokens it is charged.

Declared: `model`, `max_tokens` (required for a message, not for counting),
`messages` (each `user` or `assistant`, content a string or a list of
blocks), `system` (a string or text blocks), `stream`, `stop_sequences`,
`metadata`, `temperature` (0..1). Every other field is accepted and ignored.
A body that is not JSON, misses a required field or has one of the wrong
type is an `InvalidRequest`: a 400 `invalid_request_error` whose message
names the field as Anthropic's do (`max_tokens: Field required`).

Input tokens, without a tokenizer (`mock_server.tokens`' rule of thumb):
the system prompt as one more message, then every message's framing and
text at 4 characters a token. `count_tokens` answers exactly this number,
and `/v1/messages` charges exactly this number against ITPM.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mock_server import tokens


class InvalidRequest(ValueError):
    """A body Anthropic would refuse with 400 `invalid_request_error`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class Block(_Body):
    type: str
    text: str | None = None


class Message(_Body):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class CountTokensRequest(_Body):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    system: str | list[Block] | None = None

    def input_tokens(self) -> int:
        """What the request is charged against ITPM (see the module)."""
        messages: list[dict[str, Any]] = [m.model_dump() for m in self.messages]
        if self.system:
            system = (
                self.system
                if isinstance(self.system, str)
                else [b.model_dump() for b in self.system]
            )
            messages.insert(0, {"role": "system", "content": system})
        return tokens.prompt_tokens(messages)


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    metadata: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)


T = TypeVar("T", bound=CountTokensRequest)


def _parse(body: bytes, kind: type[T]) -> T:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(
            "There was an error parsing the body of your request: not JSON"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("Input should be a valid dictionary")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest(f"{where}: {error['msg']}") from None


def parse_message(body: bytes, max_output_tokens: int) -> MessagesRequest:
    """A `/v1/messages` body, or InvalidRequest; a `max_tokens` above the model's
    maximum output is refused as Anthropic refuses it."""
    request = _parse(body, MessagesRequest)
    if request.max_tokens > max_output_tokens:
        raise InvalidRequest(
            f"max_tokens: {request.max_tokens} > {max_output_tokens}, which is the maximum "
            f"allowed number of output tokens for {request.model}"
        )
    return request


def parse_count(body: bytes) -> CountTokensRequest:
    """A `/v1/messages/count_tokens` body, or InvalidRequest."""
    return _parse(body, CountTokensRequest)
