"""A request set for an LLM endpoint: one JSONL file that every client and any
external tool can send (written by `python -m bench requests`).

For Anthropic's `/v1/messages` (`api="anthropic"`) each line is a Messages
body (`model`, `max_tokens`, `messages`) and `metadata` carries the
request's index and its input tokens as the server counts them (what
`/v1/messages/count_tokens` answers, charged against the ITPM); the set's
own `metadata` is taken off before sending, as for OpenAI's (the API's own
`metadata.user_id` is not used by a set). The rest of this says how both
are drawn, in OpenAI's words.

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
  of real prompt lengths (most short, a few long); SIGMA 0 is MEDIAN always,
  and at most MAX_SIGMA.

Prompt tokens are what the server will estimate for the request, at least
7 (the framing of one user message, see `mock_server.tokens`); the message
is filler text of 4 characters per further token. max_tokens is at least 1
(OpenAI refuses 0). Each is at most MAX_TOKENS: a fixed or uniform spec
outside that range is refused, and a lognormal draw outside it (its tails
are long) is kept to its edge. A set holds at most MAX_REQUESTS requests and
MAX_PROMPT_TOKENS_IN_ALL prompt tokens (the file's size, 4 bytes a token).
The draw is seeded: the same `--seed` writes the same file, byte for byte.
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

from clients.infra.request_set import read_request_set
from mock_server import tokens
from mock_server.vocabulary import UsageError

DEFAULT_MODEL = "ratebench-mock"
DEFAULT_PROMPT_TOKENS = "lognormal:200,0.75"
DEFAULT_MAX_TOKENS = "uniform:50-400"
# One user message costs this much before its text (framing, role, priming).
MIN_PROMPT_TOKENS = tokens.prompt_tokens([{"role": "user", "content": ""}])
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "

#: Tokens one request's prompt or answer may have: a million, the order of the
#: largest context window a model offers.
MAX_TOKENS = 1_000_000
#: A lognormal wider than this spreads over more than e^±9 (8000 times the median
#: either way) in three sigmas; real prompt lengths have about 0.5-1.5.
MAX_SIGMA = 3.0
#: Requests in one set, and their prompt tokens in all (4 bytes each in the file,
#: so 100 MB): what a machine writes, reads and plans in seconds.
MAX_REQUESTS = 100_000
MAX_PROMPT_TOKENS_IN_ALL = 25_000_000


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True, slots=True)
class Distribution:
    """A named distribution of whole numbers within `low..high`; `str()` gives its
    spec back."""

    name: str
    params: tuple[float, ...]
    low: int = 1
    high: int = MAX_TOKENS

    def draw(self, rng: random.Random) -> int:
        if self.name == "fixed":
            return int(self.params[0])
        if self.name == "uniform":
            return rng.randint(int(self.params[0]), int(self.params[1]))
        median, sigma = self.params
        return min(self.high, max(self.low, round(rng.lognormvariate(math.log(median), sigma))))

    def __str__(self) -> str:
        if self.name == "uniform":
            return f"uniform:{_number(self.params[0])}-{_number(self.params[1])}"
        return f"{self.name}:{','.join(_number(p) for p in self.params)}"


_SPECS = {
    "fixed": re.compile(r"^fixed:(\d+)$"),
    "uniform": re.compile(r"^uniform:(\d+)-(\d+)$"),
    "lognormal": re.compile(r"^lognormal:(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$"),
}


def parse_distribution(text: str, flag: str, low: int = 1) -> Distribution:
    """`uniform:50-400` -> Distribution of whole numbers in `low..MAX_TOKENS`;
    UsageError naming `flag` otherwise."""
    spec = text.strip().replace(" ", "")
    for name, pattern in _SPECS.items():
        match = pattern.match(spec)
        if match:
            params = tuple(float(g) for g in match.groups())
            _check(name, params, f"{flag} {text!r}", low)
            return Distribution(name, params, low, MAX_TOKENS)
    raise UsageError(
        f"{flag} {text!r} is not a distribution: use fixed:N, uniform:LOW-HIGH "
        "or lognormal:MEDIAN,SIGMA (e.g. lognormal:200,0.75)"
    )


def _check(name: str, params: tuple[float, ...], given: str, low: int) -> None:
    """UsageError unless the distribution's parameters keep it within `low..MAX_TOKENS`."""
    if name == "uniform" and params[0] > params[1]:
        raise UsageError(f"{given} is inverted: write the lower bound first")
    if name == "lognormal":
        median, sigma = params
        if not 0 < median <= MAX_TOKENS:
            raise UsageError(f"{given}: the median must be above 0 and at most {MAX_TOKENS}")
        if sigma > MAX_SIGMA:
            raise UsageError(
                f"{given}: SIGMA {_number(sigma)} is more than {MAX_SIGMA:g}, a spread of "
                f"e^{MAX_SIGMA:g} = {math.exp(MAX_SIGMA):.0f} times per sigma; real lengths have "
                "0.5-1.5, e.g. lognormal:200,0.75"
            )
        return
    if params[0] < low:
        why = (
            "OpenAI refuses max_tokens 0 with a 400, and every request of the set names "
            "its max_tokens"
            if low == 1
            else f"one user message's framing alone is {low} prompt tokens"
        )
        raise UsageError(f"{given} goes below {low}: {why}; start at {low} or more")
    if params[-1] > MAX_TOKENS:
        raise UsageError(f"{given} goes above {MAX_TOKENS} tokens: keep it to {MAX_TOKENS} or less")


def filler(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars]


def make_requests(
    n: int,
    seed: int,
    prompt_tokens: Distribution,
    max_tokens: Distribution,
    model: str = DEFAULT_MODEL,
    api: str = "openai",
) -> list[dict[str, Any]]:
    """`n` request bodies in the cookbook's format (see the module), in `api`'s body
    format; UsageError if they would be more than MAX_REQUESTS or
    MAX_PROMPT_TOKENS_IN_ALL."""
    if not 1 <= n <= MAX_REQUESTS:
        raise UsageError(
            f"a request set of {n} requests: a set holds 1 to {MAX_REQUESTS}; ask for fewer"
        )
    rng = random.Random(seed)
    # Drawn first, in the order the set always drew them, so that the file's
    # size is known before any of its text is made.
    drawn = [(prompt_tokens.draw(rng), max_tokens.draw(rng)) for _ in range(n)]
    prompts = [max(MIN_PROMPT_TOKENS, prompt) for prompt, _ in drawn]
    if sum(prompts) > MAX_PROMPT_TOKENS_IN_ALL:
        raise UsageError(
            f"{n} requests of prompt tokens {prompt_tokens} add up to {sum(prompts)} prompt "
            f"tokens, more than the {MAX_PROMPT_TOKENS_IN_ALL} a set may hold "
            f"({MAX_PROMPT_TOKENS_IN_ALL * tokens.CHARS_PER_TOKEN // 10**6} MB): lower --n "
            "or --prompt-tokens"
        )
    bodies: list[dict[str, Any]] = []
    for index, (prompt, (_, drawn_answer)) in enumerate(zip(prompts, drawn, strict=True)):
        answer = max(1, drawn_answer)
        text = filler(tokens.CHARS_PER_TOKEN * (prompt - MIN_PROMPT_TOKENS))
        messages = [{"role": "user", "content": text}]
        estimate = tokens.prompt_tokens(messages)
        if api == "anthropic":
            # The Messages endpoint counts a request's input as OpenAI's estimate of
            # the same messages (its count_tokens answers this).
            bodies.append(
                {
                    "model": model,
                    "max_tokens": answer,
                    "messages": messages,
                    "metadata": {"request": index, "input_tokens": estimate},
                }
            )
            continue
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


def read_requests(path: Path, api: str = "openai") -> list[dict[str, Any]]:
    """The bodies of a request file, in order (blank lines skipped), each checked as
    `api`'s server checks a body; RequestSetError names the first bad line."""
    from clients.infra.llm_api import api_named

    return read_request_set(path, api_named(api).check_line)
