"""Retry policies: how many attempts a request gets and how long it sleeps between them.

- `exponential`: the sleep doubles, 3, 6, 12, 24 s. The default: it is what
  the write-up's `retry_multiplier = 2` meant.
- `writeup`: the write-up's code as written, `retry_sleep = retry_sleep ** 2`,
  so 3, 9, 81, 6561 s. Faithful, but a request that needs its fifth attempt
  waits almost two hours; the per-run deadline ends such runs.
- `none`: a single attempt, no retries.

All sleeps are in scenario seconds; clients multiply by their time scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clients.config import RETRY_NAMES, ClientConfig, ConfigError, RetryName


def retry_sleep(policy: RetryName, attempt: int, first_sleep: float = 3.0) -> float:
    """Scenario seconds to sleep before attempt number `attempt` (1 = first retry).

    Attempt 0 is the first try and never sleeps. Returns `math.inf` where the
    `writeup` schedule outgrows a float (from the 12th attempt at 3 s).
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if attempt == 0:
        return 0.0
    if policy == "exponential":
        return float(first_sleep * 2 ** (attempt - 1))
    if policy == "writeup":
        try:
            return float(first_sleep ** (2 ** (attempt - 1)))
        except OverflowError:
            return math.inf
    if policy == "none":
        raise ValueError("retry policy 'none' makes a single attempt; there is no sleep to give")
    raise ConfigError(f"retry must be one of {', '.join(RETRY_NAMES)}, got {policy!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A named schedule bound to its attempt budget and first sleep (scenario seconds)."""

    name: RetryName = "exponential"
    attempts: int = 5
    first_sleep: float = 3.0

    @classmethod
    def from_config(cls, config: ClientConfig) -> RetryPolicy:
        return cls(config.retry, config.attempts, config.first_sleep)

    @property
    def max_attempts(self) -> int:
        """HTTP attempts a request may make, the first included."""
        return 1 if self.name == "none" else self.attempts

    def sleep_before(self, attempt: int) -> float:
        """Scenario seconds to sleep before `attempt` (0 = first try, no sleep)."""
        return retry_sleep(self.name, attempt, self.first_sleep)

    def schedule(self) -> list[float]:
        """Every sleep between attempts, in order: [3, 6, 12, 24] by default."""
        return [self.sleep_before(k) for k in range(1, self.max_attempts)]
