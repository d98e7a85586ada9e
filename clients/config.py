"""The knobs every client reads, with the write-up's values as defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from clients.spec import APIS
from mock_server.vocabulary import STRATEGIES, RatebenchError, Strategy, check_time_scale

RetryName = Literal["exponential", "writeup", "none"]
RETRY_NAMES: tuple[str, ...] = get_args(RetryName)
#: How Anthropic's output tokens are charged: as produced (the docs now), or
#: `max_tokens` at admission (the docs before).
OtpmCharge = Literal["produced", "max-tokens"]
OTPM_CHARGES: tuple[str, ...] = get_args(OtpmCharge)
#: Wall seconds a client that sends at a window's very edge adds to the window:
#: the gap between its send and the server limiter's decision, measured from the
#: server's log (see `clients.catalog.sliding_window`). Wall time, not scaled:
#: the gap is the machine's, not the scenario's. Theory's `Scenario.margin`
#: defaults to it (in scenario seconds at time scale 1).
MARGIN = 0.020


#: The largest batch a run takes: every attempt is kept in memory and written
#: out (about 40 KB per request in the bench, measured at 10,000), so a
#: million-request typo would take gigabytes before its first send.
MAX_N = 100_000


class ConfigError(RatebenchError):
    """A knob with a value no run can use; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """One batch's settings. Durations are in scenario seconds (time scale 1);
    every client multiplies them by `time_scale` before sleeping or waiting.

    - `workers`: threads in the pool, or tasks in flight for bounded clients.
    - `rate`, `capacity`, `initial_tokens`: the token bucket (tokens per
      scenario second, whole tokens).
    - `attempts`: HTTP attempts per request, the first included.
    - `retry`, `first_sleep`: the sleep schedule after a failed attempt.
    - `deadline`: scenario seconds after which a run stops and records every
      unfinished request as failed, so that no run can hang.
    - `request_timeout`: scenario seconds one HTTP attempt may take.
    - `redis_url`: the Redis that holds a limit shared by many processes
      (`shared_window`); the other clients ignore it.
    - `server_strategy`: the limits strategy the server is known to use, for
      clients that follow its rule (`sliding_window`); the others ignore it.
    - `rpm`, `tpm`, `requests_file`: for the OpenAI-compatible endpoint's
      clients, the limits they are told (None: not told) and the JSONL
      request set they send (`bench requests`; None: a seeded default set of
      `n` requests); the `/chat` clients ignore them.
    - `itpm`, `otpm`, `otpm_charge`: Anthropic's input and output tokens per
      minute as a client is told them (None: not told), and how the server
      charges output ("max-tokens": `max_tokens` at admission; "produced": the
      tokens as they are produced; None: not told).
    - `api`: the endpoint the batch goes to (a client that speaks several
      sends in that one's format, `clients.infra.llm_api`).
    - `itpm`, `rpd`, `day_minutes`, `day_start`: input tokens per minute and
      requests per day (None: not told), the length of the server's day in
      scenario minutes and the Pacific time of day at which the batch starts
      (HH:MM), for the clients of an API with a daily quota (Gemini).
    - `pool`: connections the aiohttp clients may hold open at once, 0 for no
      limit (aiohttp's own default is 100, a ceiling of 100 requests in flight
      that no policy chose). The thread clients open one connection per
      attempt, as the write-up's `requests.get` did, and ignore it.
    - `api_key`: the key every request presents (`Authorization: Bearer`),
      for a server that issued keys (`--api-key`); None sends none. Never
      written to a record.
    """

    url: str = "http://127.0.0.1:8000/chat"
    n: int = 10
    workers: int = 2
    rate: float = 2.0
    capacity: int = 2
    initial_tokens: int = 0
    attempts: int = 5
    retry: RetryName = "exponential"
    first_sleep: float = 3.0
    time_scale: float = 1.0
    deadline: float = 600.0
    request_timeout: float = 60.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    server_strategy: Strategy = "fixed-window"
    rpm: int | None = None
    tpm: int | None = None
    itpm: int | None = None
    otpm: int | None = None
    otpm_charge: OtpmCharge | None = None
    api: str = "chat"
    rpd: int | None = None
    day_minutes: float = 1440.0
    day_start: str = "00:00"
    requests_file: str | None = None
    pool: int = 0
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"--url must start with http:// or https://, got {self.url!r}")
        positive_ints = {
            "n": self.n,
            "workers": self.workers,
            "capacity": self.capacity,
            "attempts": self.attempts,
        }
        for name, value in positive_ints.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if self.n > MAX_N:
            raise ConfigError(
                f"n {self.n} is more than {MAX_N} requests in one batch: split it into several runs"
            )
        if not 0 <= self.initial_tokens <= self.capacity:
            raise ConfigError(
                f"initial_tokens must be between 0 and capacity ({self.capacity}), "
                f"got {self.initial_tokens}"
            )
        for name, seconds in {
            "rate": self.rate,
            "deadline": self.deadline,
            "request_timeout": self.request_timeout,
        }.items():
            if not seconds > 0:
                raise ConfigError(f"{name} must be greater than 0, got {seconds}")
        try:
            check_time_scale(self.time_scale)  # the server's and the bench's rule
        except RatebenchError as exc:
            raise ConfigError(str(exc)) from None
        if self.pool < 0:
            raise ConfigError(f"pool must be >= 0 connections (0 for no limit), got {self.pool}")
        if self.first_sleep < 0:
            raise ConfigError(f"first_sleep must be >= 0 seconds, got {self.first_sleep}")
        if self.api not in APIS:
            raise ConfigError(f"api must be one of {', '.join(APIS)}, got {self.api!r}")
        if self.otpm_charge not in (None, *OTPM_CHARGES):
            raise ConfigError(
                f"otpm_charge must be one of {', '.join(OTPM_CHARGES)}, got {self.otpm_charge!r}"
            )
        for name in ("rpm", "tpm", "itpm", "otpm", "rpd"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1 or unset, got {value}")
        if not 0 < self.day_minutes <= 1440:
            raise ConfigError(
                f"day_minutes must be above 0 and at most 1440, got {self.day_minutes}"
            )
        if self.retry not in RETRY_NAMES:
            raise ConfigError(f"retry must be one of {', '.join(RETRY_NAMES)}, got {self.retry!r}")
        if self.server_strategy not in STRATEGIES:
            raise ConfigError(
                f"server_strategy must be one of {', '.join(STRATEGIES)}, "
                f"got {self.server_strategy!r}"
            )

    @property
    def auth_headers(self) -> dict[str, str]:
        """The headers that present `api_key` (none without one)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def scaled(self, seconds: float) -> float:
        """Scenario seconds to wall-clock seconds at this config's time scale."""
        return seconds * self.time_scale
