"""When the last answer of a schedule comes, under the LLM endpoints' latency model.

The server's model (`mock_server.llm_latency`): time to the first token
(uniform, or whole seconds for whole-number bounds), then `token_time` per
output token after the first, the output tokens drawn uniformly from
`1..max_tokens`. The makespan of a schedule is the expected latest finish,
`E[max_i (s_i + D_i)]`, computed from the product of the latencies'
distribution functions (numerically, on a grid of about a millisecond of
scenario time), with its standard deviation. Every LLM endpoint's bound
uses it (`bench.endpoints.openai.bound`, `bench.endpoints.anthropic.bound`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mock_server.endpoints.openai.settings import DEFAULTS, OpenAISettings
from mock_server.vocabulary import Latency

Floats = npt.NDArray[np.float64]
# Grid points over the span where the latest finish can fall; the expected
# value is exact to well under a millisecond for the spans the server draws.
GRID = 20_001


@dataclass(frozen=True, slots=True)
class LLMLatency:
    """The server's latency model, in scenario seconds (see `mock_server.llm_latency`):
    the first token after `ttft` (the latency rule of `mock_server.vocabulary.Latency`:
    randint for whole-number bounds, as for `/chat`, else uniform), then `token_time`
    per further token."""

    ttft: Latency = DEFAULTS.ttft
    token_time: float = DEFAULTS.token_time

    @classmethod
    def of(cls, settings: OpenAISettings) -> LLMLatency:
        return cls(settings.ttft, settings.token_time)

    def mean(self, max_tokens: int) -> float:
        """Expected seconds from the decision to the last token."""
        return self.ttft.mean + (max_tokens - 1) / 2 * self.token_time

    def longest(self, max_tokens: int) -> float:
        return self.ttft.high + (max_tokens - 1) * self.token_time

    def cdf(self, y: Floats, max_tokens: int) -> Floats:
        """P(latency <= y) for a request of `max_tokens`, at every point of `y`."""
        m, tau = max_tokens, self.token_time
        if self.ttft.whole_seconds or self.ttft.low == self.ttft.high:
            # A few equally likely first-token times, each shifted by j x tau.
            if self.ttft.whole_seconds:
                starts = [float(k) for k in range(int(self.ttft.low), int(self.ttft.high) + 1)]
            else:
                starts = [self.ttft.low]
            total = np.zeros_like(y)
            for k in starts:
                total += _count_at_most(y - k, tau, m)
            return total / (len(starts) * m)
        # Uniform first token on [a, b]: the mean over j of clip((y - a - j tau) / w, 0, 1).
        a, w = self.ttft.low, self.ttft.high - self.ttft.low
        u = y - a
        if tau == 0:
            return np.clip(u / w, 0.0, 1.0)
        full = np.clip(np.floor((u - w) / tau) + 1, 0, m)  # j with j tau <= u - w
        top = np.clip(np.ceil(u / tau) - 1, -1, m - 1)  # the largest j with j tau < u
        count = np.maximum(0.0, top - full + 1)
        partial = (count * u - tau * (full + top) * count / 2) / w
        result: Floats = np.clip((full + partial) / m, 0.0, 1.0)
        return result


def _count_at_most(y: Floats, tau: float, m: int) -> Floats:
    """How many j in 0..m-1 have j x tau <= y, at every point of `y`."""
    if tau == 0:
        return np.where(y >= 0, float(m), 0.0)
    counted: Floats = np.clip(np.floor(y / tau + 1e-9) + 1, 0, m)
    return counted


def latest_finish(
    sends: Sequence[tuple[float, int]], latency: LLMLatency, grid: int = GRID
) -> tuple[float, float]:
    """(mean, stdev) of `max_i (s_i + D_i)` for sends `(s_i, max_tokens_i)`, with
    independent latencies drawn as the server draws them."""
    if not sends:
        return 0.0, 0.0
    groups = Counter(sends)
    start = max(s + latency.ttft.low for s, _ in groups)  # before it nothing can be last
    end = max(s + latency.longest(m) for s, m in groups)
    if end <= start:
        return start, 0.0
    x: Floats = np.linspace(start, end, grid)
    below = np.ones_like(x)  # P(every request has finished by x)
    for (s, m), count in groups.items():
        if s + latency.longest(m) <= start:
            continue  # surely finished before anyone could be last
        below *= latency.cdf(x - s, m) ** count
    above = 1.0 - below
    mean = start + float(np.trapezoid(above, x))
    second = start**2 + float(np.trapezoid(2 * x * above, x))
    return mean, math.sqrt(max(0.0, second - mean**2))
