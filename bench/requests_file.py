"""A request set for the OpenAI-compatible endpoint: one JSONL file that every
client and any external tool can send (written by `python -m bench requests`).

The format is the OpenAI cookbook's batch file (the input of its parallel
request processor): one request body per line, exactly what is POSTed to
`/v1/chat/completions`, with an optional `metadata` object that the
processor takes off before sending (the mock server ignores it too). Here
`metadata` carries the request's index, its prompt tokens as the server
estimates them and its charge against the TPM limit (`mock_server.tokens`),
so that a client or a theory can plan without re-estimating.

Two quantities are drawn per request, each from a named distribution
(`--prompt-tokens`, `--max-tokens`):

- `fixed:N`: always N;
- `uniform:LOW-HIGH`: a whole number, each of LOW..HIGH equally likely;
- `lognormal:MEDIAN,SIGMA`: `round(exp(N(ln MEDIAN, SIGMA)))`, the skewed shape
  of real prompt lengths (most short, a few long); SIGMA 0 is MEDIAN always.

Prompt tokens are what the server will estimate for the request, at least
7 (the framing of one user message, see `mock_server.tokens`); the message
is filler text of 4 characters per further token. The draw is seeded:
the same `--seed` writes the same file, byte for byte.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.infra.oneline import UsageError
from mock_server import tokens

DEFAULT_MODEL = "ratebench-mock"
DEFAULT_PROMPT_TOKENS = "lognormal:200,0.75"
DEFAULT_MAX_TOKENS = "uniform:50-400"
# One user message costs this much before its text (framing, role, priming).
MIN_PROMPT_TOKENS = tokens.prompt_tokens([{"role": "user", "content": ""}])
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "


@dataclass(frozen=True, slots=True)
class Distribution:
    """A named distribution of whole numbers; `str()` gives its spec back."""

    name: str
    params: tuple[float, ...]

    def draw(self, rng: random.Random) -> int:
        if self.name == "fixed":
            return int(self.params[0])
        if self.name == "uniform":
            return rng.randint(int(self.params[0]), int(self.params[1]))
        median, sigma = self.params
        return round(rng.lognormvariate(math.log(median), sigma))

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return f"{x:g}"

        if self.name == "uniform":
            return f"uniform:{fmt(self.params[0])}-{fmt(self.params[1])}"
        return f"{self.name}:{','.join(fmt(p) for p in self.params)}"


_SPECS = {
    "fixed": re.compile(r"^fixed:(\d+)$"),
    "uniform": re.compile(r"^uniform:(\d+)-(\d+)$"),
    "lognormal": re.compile(r"^lognormal:(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$"),
}


def parse_distribution(text: str, flag: str) -> Distribution:
    """`uniform:50-400` -> Distribution; UsageError naming `flag` otherwise."""
    spec = text.strip().replace(" ", "")
    for name, pattern in _SPECS.items():
        match = pattern.match(spec)
        if match:
            params = tuple(float(g) for g in match.groups())
            if name == "uniform" and params[0] > params[1]:
                raise UsageError(f"{flag} {text!r} is inverted: write the lower bound first")
            if name == "lognormal" and params[0] <= 0:
                raise UsageError(f"{flag} {text!r}: the median must be positive")
            return Distribution(name, params)
    raise UsageError(
        f"{flag} {text!r} is not a distribution: use fixed:N, uniform:LOW-HIGH "
        "or lognormal:MEDIAN,SIGMA (e.g. lognormal:200,0.75)"
    )


def filler(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars]


def make_requests(
    n: int,
    seed: int,
    prompt_tokens: Distribution,
    max_tokens: Distribution,
    model: str = DEFAULT_MODEL,
) -> list[dict[str, Any]]:
    """`n` request bodies in the cookbook's format (see the module)."""
    rng = random.Random(seed)
    bodies: list[dict[str, Any]] = []
    for index in range(n):
        prompt = max(MIN_PROMPT_TOKENS, prompt_tokens.draw(rng))
        answer = max(1, max_tokens.draw(rng))
        text = filler(tokens.CHARS_PER_TOKEN * (prompt - MIN_PROMPT_TOKENS))
        messages = [{"role": "user", "content": text}]
        estimate = tokens.prompt_tokens(messages)
        bodies.append(
            {
                "model": model,
                "messages": messages,
                "max_tokens": answer,
                "metadata": {
                    "request": index,
                    "prompt_tokens": estimate,
                    "charge": tokens.charge(estimate, answer),
                },
            }
        )
    return bodies


def write_requests(path: Path, bodies: Sequence[dict[str, Any]]) -> None:
    """One body per line, keys in a fixed order, newline-terminated."""
    path.write_text("".join(json.dumps(b, separators=(",", ":")) + "\n" for b in bodies))


def read_requests(path: Path) -> list[dict[str, Any]]:
    """The bodies of a request file, in order (blank lines skipped)."""
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
