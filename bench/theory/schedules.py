"""Send times fixed in advance: the policies whose schedule does not depend on answers.

A client that paces single sends (a token bucket, a leaky bucket, metered
starts) sends at times known before the batch starts, as long as no send is
rejected. Theory turns such a schedule into an exact expected makespan when
the measurement is made (`bench.endpoints.chat.theory`); the report prints the schedule
beside that figure. Times are scenario seconds from the batch's start.
"""

from __future__ import annotations

from bench.records.scenario import Scenario
from clients.config import ClientConfig
from clients.spec import ClientSpec

#: Policies that space single sends in time, so a median gap between sends means something.
ONE_AT_A_TIME: frozenset[str] = frozenset({"token bucket", "leaky bucket", "paced starts"})


def forced_edge_rejection(scenario: Scenario, config: ClientConfig) -> bool:
    """True if a burst of `capacity` at t = 0 fills the fixed window the first hit
    opened, so that the next send, one 1/rate later, is always rejected."""
    limit = scenario.limit
    return (
        limit.strategy == "fixed-window"
        and config.capacity >= limit.count
        and 1 / config.rate < limit.window
    )


def fixed_sends(spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> list[float] | None:
    """The client's send times if no 429 got in the way (None for other policies).

    - token bucket: the tokens it starts with go at t = 0, then one send per 1/rate.
    - leaky bucket: a burst of `capacity` at t = 0, then one per 1/rate; where
      the send after the burst is always rejected (`forced_edge_rejection`), the
      schedule is that of the later sends with the rejected one's retry queued
      behind them.
    - paced starts: one start per 1/rate from t = 0.
    """
    n, gap = scenario.n, 1 / config.rate
    if spec.policy == "token bucket":
        first = config.initial_tokens
        return [0.0 if k < first else (k - first + 1) * gap for k in range(n)]
    if spec.policy == "leaky bucket":
        burst = min(config.capacity, n)
        shift = 2 if forced_edge_rejection(scenario, config) else 1
        return [0.0 if k < burst else (k - burst + shift) * gap for k in range(n)]
    if spec.policy == "paced starts":
        return [k * gap for k in range(n)]
    return None


def describe_sends(sends: list[float]) -> str:
    """`0, 0, 1, 1.5, …, 4.5 s`: the first few send times and the last."""
    shown = [f"{t:g}" for t in sends]
    if len(shown) > 5:
        shown = [*shown[:4], "…", shown[-1]]
    return ", ".join(shown) + " s"


def collision_waves(n: int, limit: int) -> list[int]:
    """Requests rejected in each wave when all that are left arrive together and a
    fresh window admits `limit` of them: 8, 6, 4, 2 for 10 requests and 2 per window."""
    waves = []
    remaining = n
    while remaining > limit:
        remaining -= limit
        waves.append(remaining)
    return waves
