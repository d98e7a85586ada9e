"""A request set for Gemini's `generateContent` (`python -m bench requests --api gemini`).

The same draws as the OpenAI-compatible endpoint's set (`bench.records.requests_file`:
prompt tokens and output tokens from named distributions, seeded), written in
Gemini's body format (`clients.infra.gemini_request_set`): the prompt as one
user part, the answer's length as `generationConfig.maxOutputTokens`, and
`metadata` with the model and the charge against the ITPM (the input tokens).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bench.records.requests_file import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    MAX_PROMPT_TOKENS_IN_ALL,
    MAX_REQUESTS,
    Distribution,
    filler,
    parse_distribution,
)
from bench.records.scenario import Scenario, ScenarioError
from clients.infra.gemini_request_set import DEFAULT_MODEL, prompt_tokens, read_request_set
from clients.infra.request_set import RequestSetError
from mock_server import tokens
from mock_server.vocabulary import UsageError

#: The fewest input tokens a request of the set has: one part of one character.
MIN_PROMPT_TOKENS = 1


def make_requests(
    n: int,
    seed: int,
    prompt: Distribution,
    answer: Distribution,
    model: str = DEFAULT_MODEL,
) -> list[dict[str, Any]]:
    """`n` bodies in Gemini's format (see the module); UsageError past the set's limits."""
    if not 1 <= n <= MAX_REQUESTS:
        raise UsageError(f"a request set of {n} requests: a set holds 1 to {MAX_REQUESTS}")
    rng = random.Random(seed)
    drawn = [(max(MIN_PROMPT_TOKENS, prompt.draw(rng)), max(1, answer.draw(rng))) for _ in range(n)]
    if sum(p for p, _ in drawn) > MAX_PROMPT_TOKENS_IN_ALL:
        raise UsageError(
            f"{n} requests of prompt tokens {prompt} are more than the "
            f"{MAX_PROMPT_TOKENS_IN_ALL} input tokens a set may hold: lower --n or --prompt-tokens"
        )
    bodies: list[dict[str, Any]] = []
    for index, (wanted, most) in enumerate(drawn):
        body: dict[str, Any] = {
            "contents": [
                {"role": "user", "parts": [{"text": filler(tokens.CHARS_PER_TOKEN * wanted)}]}
            ],
            "generationConfig": {"maxOutputTokens": most},
        }
        counted = prompt_tokens(body)
        body["metadata"] = {
            "request": index,
            "model": model,
            "prompt_tokens": counted,
            "charge": counted,
        }
        bodies.append(body)
    return bodies


def default_requests(n: int, seed: int) -> list[dict[str, Any]]:
    """The seeded default set of `n` requests (the OpenAI set's distributions)."""
    return make_requests(
        n,
        seed,
        parse_distribution(DEFAULT_PROMPT_TOKENS, "--prompt-tokens"),
        parse_distribution(DEFAULT_MAX_TOKENS, "--max-tokens"),
    )


def request_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    """A gemini scenario's request set: its file's first `n` bodies, or the seeded
    default set of `n` (seed `scenario.seed`)."""
    if scenario.requests is not None:
        try:
            return read_request_set(Path(scenario.requests))[: scenario.n]
        except RequestSetError as exc:
            raise ScenarioError(str(exc)) from None
    return default_requests(scenario.n, scenario.seed)
