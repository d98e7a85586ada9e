"""An LLM's latency: a time to the first token, then a time per token.

For each accepted request the server draws, in scenario seconds:

- `ttft`: the time to the first token, from `--ttft LOW-HIGH` with the same
  rule as `--latency` (whole-number bounds draw `randint`, others `uniform`);
- for each of the `n` choices, how many tokens it answers: uniform on
  `1..max_tokens` (a choice that reaches `max_tokens` ends with
  `finish_reason` "length", any other with "stop").

Token `i` of every choice (from 0) is ready `ttft + i x token_time` after
the decision; choices are generated side by side, so the answer is complete
when the longest one is. A stream sends each token when it is ready; a
plain answer waits for the last one.

Seeded like `/chat`: the k-th request the endpoint accepts (k from 1,
counted across all workers) gets draw k, which depends only on the seed and
k (`draw_for`), so any tool can recompute it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mock_server.vocabulary import Latency

WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed")


@dataclass(frozen=True, slots=True)
class LLMDraw:
    """What one accepted request will take, in scenario seconds."""

    ttft: float
    token_time: float
    completion_tokens: tuple[int, ...]  # one per choice

    @property
    def duration(self) -> float:
        """From the decision to the last token of the longest choice."""
        return self.ready(max(self.completion_tokens) - 1)

    def ready(self, index: int) -> float:
        """When token `index` (from 0) of any choice is ready."""
        return self.ttft + index * self.token_time


def rng_for(seed: int | None, k: int) -> random.Random:
    """The generator of draw `k` (from 1) under `seed`; unseeded: fresh entropy."""
    if seed is None:
        return random.Random()
    return random.Random(f"ratebench-llm:{seed}:{k}")


def draw(
    rng: random.Random, ttft: Latency, token_time: float, max_tokens: int, n: int = 1
) -> LLMDraw:
    first = ttft.draw(rng)
    tokens = tuple(rng.randint(1, max_tokens) for _ in range(n))
    return LLMDraw(ttft=first, token_time=token_time, completion_tokens=tokens)


def draw_for(
    seed: int | None, k: int, ttft: Latency, token_time: float, max_tokens: int, n: int = 1
) -> LLMDraw:
    """Draw `k` (from 1) of a server seeded with `seed`."""
    return draw(rng_for(seed, k), ttft, token_time, max_tokens, n)


def token_text(index: int) -> str:
    """The text of output token `index` (from 0): one word, space-separated."""
    word = WORDS[index % len(WORDS)]
    return word if index == 0 else " " + word


def answer_text(tokens: int) -> str:
    return "".join(token_text(i) for i in range(tokens))
