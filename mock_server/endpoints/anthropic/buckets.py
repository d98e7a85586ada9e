"""The Messages endpoint's three limits: token buckets of requests, input
tokens and output tokens, one set per project across every model.

A request is admitted only if every bucket holds what it needs
(`mock_server.token_bucket`: one step for all three, in memory or in one
Redis script for every worker), and is then charged in all three: 1
request, its input tokens, and, under `--otpm-charge max-tokens`, its
`max_tokens`. Under `produced`, it needs one output token in the bucket to
start and nothing is charged then; `charge_output` charges what it produced
once produced (see `settings`). A refused request costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mock_server.endpoints.anthropic.errors import BUCKETS
from mock_server.endpoints.anthropic.settings import AnthropicSettings
from mock_server.limits import LimitState
from mock_server.token_bucket import Bucket, BucketStore, Draw


@dataclass(frozen=True, slots=True)
class Admission:
    """One decision and the buckets as it left them (at `wall`)."""

    refused: str | None  # the bucket that refused ("requests", ...), None if admitted
    too_large: bool  # the bucket could never hold it: no wait helps
    input_charge: int  # input tokens charged (0 if refused)
    output_charge: int  # output tokens charged at admission (max_tokens or 0)
    states: dict[str, LimitState]
    retry_after: float | None  # wall seconds until it would fit, if nothing else came
    wall: float
    wall_after: float

    @property
    def accepted(self) -> bool:
        return self.refused is None


class ThreeBuckets:
    """The buckets of one project. `minute`: wall seconds of a minute at the
    server's time scale; `clock` is `time.time()` unless a test fakes it."""

    def __init__(
        self,
        store: BucketStore,
        settings: AnthropicSettings,
        minute: float,
        key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        limits = (settings.rpm, settings.itpm, settings.otpm)
        self.limits = dict(zip(BUCKETS, limits, strict=True))
        self.buckets = [Bucket(amount, amount / minute) for amount in limits]
        self.keys = [f"anthropic-{name}/{key}" for name in BUCKETS]

    def __repr__(self) -> str:
        shown = ", ".join(f"{b.capacity} {n}" for n, b in zip(BUCKETS, self.buckets, strict=True))
        return f"<ThreeBuckets {shown}, output charged {self.settings.otpm_charge}, {self.store!r}>"

    def _states(self, full: list[float], now: float) -> dict[str, LimitState]:
        return {
            name: bucket.state(f, now)
            for name, bucket, f in zip(BUCKETS, self.buckets, full, strict=True)
        }

    def admit(self, input_tokens: int, max_tokens: int) -> Admission:
        """Admit a request of `input_tokens` that may answer `max_tokens`, or not."""
        at_start = self.settings.otpm_charge == "max-tokens"
        output = max_tokens if at_start else 0
        draws = [
            Draw(self.keys[0], self.buckets[0], 1),
            Draw(self.keys[1], self.buckets[1], input_tokens),
            Draw(self.keys[2], self.buckets[2], output, need=None if at_start else 1),
        ]
        now = self.clock()
        too_large = next((i for i, d in enumerate(draws) if d.needed > d.bucket.capacity), None)
        if too_large is not None:
            refused: int | None = too_large
            full = self.store.full_at(self.keys)
        else:
            refused, full = self.store.take(now, draws)
        wall_after = self.clock()
        states = self._states(full, now)
        if refused is None:
            return Admission(None, False, input_tokens, output, states, None, now, wall_after)
        wait = None
        if too_large is None:
            wait = max(d.bucket.wait(f, now, d.needed) for d, f in zip(draws, full, strict=True))
        return Admission(
            BUCKETS[refused], too_large is not None, 0, 0, states, wait, now, wall_after
        )

    def charge_output(self, produced: int) -> float:
        """Charge `produced` output tokens now, whatever the bucket holds
        (`produced` mode); returns when (time.time())."""
        now = self.clock()
        if produced > 0:
            self.store.charge(now, [Draw(self.keys[2], self.buckets[2], produced)])
        return now

    def state(self) -> tuple[dict[str, LimitState], float]:
        """The buckets as they stand, and when (time.time())."""
        now = self.clock()
        return self._states(self.store.full_at(self.keys), now), now

    def reset(self) -> None:
        self.store.clear(self.keys)
