"""The OpenAI endpoint refuses what OpenAI refuses, in OpenAI's words, through
the official `openai` SDK against a real server process: 404 and 405 under
/v1, a message without content, temperature and top_p out of range, and a
max_tokens above the model's maximum output (while a charge above the TPM
stays the 429 "Request too large"). A refused body is logged as not accepted
and costs nothing against either limit.

One server for the module (reset between tests); answers are immediate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

from mock_server.cli import build_parser, settings_from_args
from mock_server.endpoints.openai.settings import DEFAULT_MAX_OUTPUT_TOKENS, OpenAISettings
from mock_server.processes.server import MockServer

MODEL = "gpt-4o-mini"
RPM, TPM = 5, 2_000
# Below the default and above the TPM, so that both refusals can be reached.
MAX_OUTPUT = 4_096
HI: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def module_server() -> Iterator[MockServer]:
    with MockServer(
        seed=1,
        extra_args=(
            *("--rpm", str(RPM), "--tpm", str(TPM)),
            *("--max-output-tokens", str(MAX_OUTPUT)),
            *("--ttft", "0", "--token-time", "0"),
        ),
    ) as started:
        yield started


@pytest.fixture
def server(module_server: MockServer) -> MockServer:
    module_server.reset()
    return module_server


def sdk(server: MockServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=0, timeout=30)


def completions_log(server: MockServer) -> list[dict[str, Any]]:
    return [e for e in server.log() if e.get("endpoint") == "/v1/chat/completions"]


def invalid(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error", "param": param, "code": code}


# -- routes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("post", "/foo", 404, "Invalid URL (POST /v1/foo)"),
        ("get", "/chat/completion", 404, "Invalid URL (GET /v1/chat/completion)"),
        ("get", "/chat/completions", 405, "Invalid method for URL (GET /v1/chat/completions)"),
        ("delete", "/models", 405, "Invalid method for URL (DELETE /v1/models)"),
    ],
)
def test_unknown_routes_and_methods_under_v1_are_answered_as_openai_does(
    server: MockServer, method: str, path: str, status: int, message: str
) -> None:
    with sdk(server) as client, pytest.raises(openai.APIStatusError) as caught:
        getattr(client, method)(path, cast_to=object)
    error = caught.value
    assert error.status_code == status
    if status == 404:
        assert isinstance(error, openai.NotFoundError)
    assert error.body == invalid(message, None, None)
    if status == 405:
        assert error.response.headers["allow"] in {"POST", "GET"}
    assert completions_log(server) == []


def test_chat_keeps_its_own_404_and_405(server: MockServer) -> None:
    # Only /v1 speaks OpenAI; the write-up's endpoint and the rest answer as FastAPI does.
    assert requests.post(f"{server.url}/chat", timeout=10).json() == {
        "detail": "Method Not Allowed"
    }
    assert requests.get(f"{server.url}/nope", timeout=10).json() == {"detail": "Not Found"}
    bare = requests.get(f"{server.url}/v1", timeout=10)
    assert (bare.status_code, bare.json()["error"]["message"]) == (404, "Invalid URL (GET /v1)")


# -- bodies -------------------------------------------------------------------

TOO_LARGE = (
    "max_tokens is too large: {n}. This model supports at most "
    f"{MAX_OUTPUT} completion tokens, whereas you provided {{n}}."
)

INVALID_BODIES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "user-message-without-content",
        {"messages": [{"role": "user"}]},
        invalid(
            "Missing required parameter: 'messages[0].content'.",
            "messages[0].content",
            "missing_required_parameter",
        ),
    ),
    (
        "user-message-with-null-content",
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": None},
            ]
        },
        invalid(
            "Invalid value for 'content': expected a string, got null.",
            "messages.[1].content",
            None,
        ),
    ),
    (
        "temperature-above-2",
        {"messages": HI, "temperature": 2.5},
        invalid(
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
            "but got 2.5 instead.",
            "temperature",
            "decimal_above_max_value",
        ),
    ),
    (
        "temperature-below-0",
        {"messages": HI, "temperature": -1},
        invalid(
            "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, "
            "but got -1 instead.",
            "temperature",
            "decimal_below_min_value",
        ),
    ),
    (
        "top-p-above-1",
        {"messages": HI, "top_p": 1.5},
        invalid(
            "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, "
            "but got 1.5 instead.",
            "top_p",
            "decimal_above_max_value",
        ),
    ),
    (
        "top-p-below-0",
        {"messages": HI, "top_p": -0.5},
        invalid(
            "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, "
            "but got -0.5 instead.",
            "top_p",
            "decimal_below_min_value",
        ),
    ),
    (
        "max-tokens-above-the-model",
        {"messages": HI, "max_tokens": MAX_OUTPUT + 1},
        invalid(TOO_LARGE.format(n=MAX_OUTPUT + 1), "max_tokens", "invalid_value"),
    ),
    (
        "max-completion-tokens-above-the-model",
        {"messages": HI, "max_completion_tokens": 100_000},
        invalid(TOO_LARGE.format(n=100_000), "max_tokens", "invalid_value"),
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [(fields, expected) for _, fields, expected in INVALID_BODIES],
    ids=[name for name, _, _ in INVALID_BODIES],
)
def test_invalid_bodies_are_400s_in_openai_words(
    server: MockServer, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    with sdk(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, **fields)
    error = caught.value
    assert error.status_code == 400
    assert error.body == expected
    assert (error.code, error.param) == (expected["code"], expected["param"])
    [entry] = completions_log(server)
    assert (entry["status"], entry["accepted"], entry["refused_by"]) == (400, False, None)
    assert entry["error"] == expected["message"]
    assert entry["tokens_charged"] is None


def test_refused_bodies_cost_neither_requests_nor_tokens(server: MockServer) -> None:
    # More refusals than the RPM allows, and more tokens than the TPM had they been charged.
    assert len(INVALID_BODIES) > RPM
    with sdk(server) as client:
        for _, fields, _ in INVALID_BODIES:
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(model=MODEL, **fields)
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=HI, max_tokens=10
        )
    assert raw.http_response.status_code == 200
    entries = completions_log(server)
    assert [e["accepted"] for e in entries] == [False] * len(INVALID_BODIES) + [True]
    [charged] = [e["tokens_charged"] for e in entries if e["accepted"]]
    assert raw.headers["x-ratelimit-remaining-requests"] == str(RPM - 1)
    assert raw.headers["x-ratelimit-remaining-tokens"] == str(TPM - charged)


def test_a_charge_above_the_tpm_stays_a_429_request_too_large(server: MockServer) -> None:
    # max_tokens within the model's output but above the TPM: the limit's
    # refusal, not the body's (OpenAI's 429 "Request too large").
    with sdk(server) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=HI, max_tokens=MAX_OUTPUT)
    error = caught.value
    assert (error.status_code, error.code) == (429, "rate_limit_exceeded")
    assert isinstance(error.body, dict)
    assert re.match(rf"Request too large for {MODEL} .* Limit {TPM}, ", error.body["message"])
    [entry] = completions_log(server)
    assert entry["refused_by"] == "too-large"


# -- the flag -------------------------------------------------------------------


def test_max_output_tokens_defaults_to_gpt_4o_minis_and_is_in_the_log(
    server: MockServer,
) -> None:
    assert DEFAULT_MAX_OUTPUT_TOKENS == 16_384
    settings = settings_from_args(build_parser().parse_args([]))
    assert settings.endpoint("openai", OpenAISettings).max_output_tokens == 16_384
    assert server.get("/log")["settings"]["openai"]["max_output_tokens"] == MAX_OUTPUT
