"""The body of `POST /v1/chat/completions`, validated as OpenAI validates it.

Only the fields the mock server uses or checks are declared; every other
field (tools, response_format, ...) is accepted and ignored. A body that is
not JSON, not an object, or has a field of the wrong type or value is an
`InvalidRequest`, answered with a 400 in OpenAI's error shape and wording
(`Missing required parameter: 'messages'.`, `Invalid type for 'n': ...`), as
are a message other than the assistant's without content, `temperature`
outside 0..2, `top_p` outside 0..1, and a `max_tokens` (or
`max_completion_tokens`) above the model's maximum output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Roles whose message may go without content (an assistant's tool calls, a
# function's result), as OpenAI's reference has it; every other role's is required.
CONTENT_OPTIONAL = ("assistant", "function")


class InvalidRequest(ValueError):
    """A body OpenAI would refuse with 400 `invalid_request_error`."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(_Body):
    include_usage: bool | None = None


class ChatCompletionRequest(_Body):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=128)
    # Checked, never used. Float bounds: a range error says "decimal", not "integer".
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    stream: bool | None = None
    stream_options: StreamOptions | None = None

    def answer_limit(self, default: int) -> int:
        """max_tokens per choice: max_completion_tokens, else max_tokens, else `default`."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens if self.max_tokens is not None else default

    @property
    def choices(self) -> int:
        return self.n if self.n is not None else 1

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "float_type": "a decimal",
    "list_type": "an array",
    "model_type": "an object",
    "dict_type": "an object",
    "model_attributes_type": "an object",
}


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: a bool is an int in Python
    (int, "an integer"),
    (float, "a decimal"),
    (str, "a string"),
    (list, "an array"),
)


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "an object")


def _param(loc: tuple[int | str, ...]) -> str:
    """('messages', 0, 'role') -> "messages[0].role"; pydantic's union branch
    names (`str`, `list[ContentPart]`) are left out."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "[" in part or part in {"str", "int", "bool", "none"}:
            continue
        else:
            text += f".{part}" if text else part
    return text


def _invalid(error: ErrorDetails) -> InvalidRequest:  # noqa: PLR0911  # one return per kind
    kind = error["type"]
    param = _param(tuple(error["loc"]))
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return InvalidRequest(NOT_JSON)
    if not param:
        return InvalidRequest(
            f"Invalid type for request body: expected an object, but got {_json_type(value)} "
            "instead.",
            None,
            "invalid_type",
        )
    if kind == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    if kind in _EXPECTED:
        return InvalidRequest(
            f"Invalid type for '{param}': expected {_EXPECTED[kind]}, but got "
            f"{_json_type(value)} instead.",
            param,
            "invalid_type",
        )
    if kind == "literal_error":
        supported = ", ".join(f"'{r}'" for r in ROLES)
        return InvalidRequest(
            f"Invalid value: '{value}'. Supported values are: {supported}.",
            param,
            "invalid_value",
        )
    if kind == "too_short":
        return InvalidRequest(
            f"Invalid '{param}': empty array. Expected an array with minimum length "
            f"{ctx.get('min_length', 1)}, but got an empty array instead.",
            param,
            "empty_array",
        )
    if kind == "string_too_short":
        return InvalidRequest(
            f"Invalid '{param}': empty string. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param,
            "empty_string",
        )
    if kind in ("greater_than_equal", "less_than_equal"):
        return _out_of_range(param, value, ctx)
    return InvalidRequest(f"Invalid '{param}': {error['msg']}.", param, "invalid_value")


def _out_of_range(param: str, value: Any, ctx: dict[str, Any]) -> InvalidRequest:
    """`Invalid 'n': integer above maximum value. Expected a value <= 128, but got
    1000 instead.`; a float bound (temperature, top_p) makes it a decimal."""
    if "ge" in ctx:
        bound, where, sign, code = ctx["ge"], "below minimum", ">=", "below_min"
    else:
        bound, where, sign, code = ctx["le"], "above maximum", "<=", "above_max"
    number = "decimal" if isinstance(bound, float) else "integer"
    return InvalidRequest(
        f"Invalid '{param}': {number} {where} value. Expected a value {sign} {bound:g}, "
        f"but got {value} instead.",
        param,
        f"{number}_{code}_value",
    )


def _check_contents(messages: list[ChatMessage]) -> None:
    """A message of a role that needs content: missing is a missing parameter,
    null an invalid value (OpenAI's words for each, and its `messages.[i]` param)."""
    for i, message in enumerate(messages):
        if message.role in CONTENT_OPTIONAL:
            continue
        if "content" not in message.model_fields_set:
            param = f"messages[{i}].content"
            raise InvalidRequest(
                f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
            )
        if message.content is None:
            raise InvalidRequest(
                "Invalid value for 'content': expected a string, got null.",
                f"messages.[{i}].content",
            )


def _check_max_output(request: ChatCompletionRequest, max_output_tokens: int) -> None:
    """Above the model's maximum output, either spelling is refused in max_tokens'
    words, as OpenAI refuses it."""
    asked = request.answer_limit(0)
    if asked > max_output_tokens:
        raise InvalidRequest(
            f"max_tokens is too large: {asked}. This model supports at most "
            f"{max_output_tokens} completion tokens, whereas you provided {asked}.",
            "max_tokens",
            "invalid_value",
        )


def parse_request(body: bytes, max_output_tokens: int | None = None) -> ChatCompletionRequest:
    """The validated request, or InvalidRequest (never anything else).

    `max_output_tokens`: the model's maximum output per choice (None: no maximum).
    """
    try:
        request = ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        # One problem at a time, as OpenAI names them. A union (content: a
        # string or a list of parts) reports one error per branch: the
        # deepest is the one inside the value actually sent.
        deepest = max(exc.errors(), key=lambda e: len(e["loc"]))
        raise _invalid(deepest) from None
    if request.stream_options is not None and not request.stream:
        raise InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    _check_contents(request.messages)
    if max_output_tokens is not None:
        _check_max_output(request, max_output_tokens)
    return request
