"""The scenario: one typed value, parsed once at the edge, from which everything derives.

A bench, a sweep and `python -m bench redis` each turn their command line into
a `Scenario` (limit, latency, batch size, time scale, seed, faults) and from
then on pass only that value around. The mock server's arguments, every
client's `ClientConfig` and theory's input are computed from it here, so a
run record that stores the scenario is enough to re-draw, re-explain and
re-predict the run: nobody downstream parses "2/second" or "2-5" again.

Strings are parsed by the mock server's own parsers (`mock_server.settings`),
imported only inside the `parse_*` functions: the server decides what a rate
means, and plots and reports, which only read stored scenarios, never import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import PurePath
from typing import Any, Literal, get_args

from clients.config import OTPM_CHARGES, ClientConfig, ConfigError
from clients.infra.retry import RetryPolicy
from clients.spec import APIS, Api
from mock_server.vocabulary import STRATEGIES, RatebenchError, Strategy
from mock_server.vocabulary import Latency as DrawnLatency

_CLIENT = ClientConfig()

LatencyKind = Literal["randint", "uniform"]
LATENCY_KINDS: tuple[str, ...] = get_args(LatencyKind)
ErrorKind = Literal["500", "garbage"]
ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)

#: Client knobs a user may set for a whole bench or sweep (`--retry`, `--deadline`,
#: a sweep's `workers=...`); the others derive from the scenario.
OVERRIDABLE: tuple[str, ...] = (
    "workers",
    "rate",
    "capacity",
    "initial_tokens",
    "attempts",
    "retry",
    "first_sleep",
    "deadline",
    "request_timeout",
    "pool",
)
KnobValue = int | float | str
Overrides = tuple[tuple[str, KnobValue], ...]


class ScenarioError(RatebenchError):
    """A scenario no server, client or theory can run; the message says how to fix it."""


def _number(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Limit:
    """The server allows `count` requests per `window` scenario seconds, counted by
    one of limits' strategies (slowapi's default: a fixed window that opens at the
    first hit)."""

    count: int = 2
    window: float = 1.0
    strategy: Strategy = "fixed-window"

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 1:
            raise ScenarioError(f"limit count must be a whole number >= 1, got {self.count!r}")
        if not (math.isfinite(self.window) and self.window > 0):
            raise ScenarioError(f"limit window must be > 0 seconds, got {self.window!r}")
        if self.strategy not in STRATEGIES:
            raise ScenarioError(
                f"strategy {self.strategy!r} is unknown: use one of {', '.join(STRATEGIES)}"
            )

    @property
    def per_second(self) -> float:
        """Requests per scenario second the limit allows in the long run."""
        return self.count / self.window

    def __str__(self) -> str:
        """The limit as limits writes it (`2/second`, `10/5seconds`): the server's `--rate`."""
        if self.window == 1:
            return f"{self.count}/second"
        return f"{self.count}/{_number(self.window)}seconds"

    def words(self) -> str:
        """`2 requests per 1 s`, for tables."""
        return f"{self.count} requests per {_number(self.window)} s"


@dataclass(frozen=True, slots=True)
class Latency:
    """What the server draws for each accepted request, in scenario seconds:
    `random.randint(lo, hi)` whole seconds (the write-up's), or `uniform(lo, hi)`.

    The mock server picks the kind from its bounds (`mock_server.vocabulary.Latency`:
    whole numbers draw randint), so the kind must agree with them.
    """

    kind: LatencyKind = "randint"
    lo: float = 2.0
    hi: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in LATENCY_KINDS:
            raise ScenarioError(
                f"latency kind must be one of {', '.join(LATENCY_KINDS)}, got {self.kind!r}"
            )
        if self.drawn.whole_seconds != (self.kind == "randint"):
            raise ScenarioError(
                f"latency {self}: the server draws randint for whole-second bounds and "
                "uniform otherwise, so the kind must follow the bounds"
            )

    @property
    def drawn(self) -> DrawnLatency:
        """The server's latency model of these bounds; ScenarioError if it has none."""
        try:
            return DrawnLatency(self.lo, self.hi)
        except RatebenchError as exc:
            raise ScenarioError(str(exc)) from None

    @property
    def mean(self) -> float:
        """Seconds an accepted request takes on average."""
        return self.drawn.mean

    def __str__(self) -> str:
        """`2-5`: the server's `--latency`."""
        return f"{_number(self.lo)}-{_number(self.hi)}"

    def words(self) -> str:
        how = "whole seconds" if self.kind == "randint" else "uniform"
        return f"{self} s, {how}, accepted only"


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults the bench's own server injects, for testing how clients and bench cope.

    `error_rate`: share of accepted requests answered with an error (`error_kind`:
    a 500, or a 200 whose body is not JSON); `stall_after`: accepted requests
    after which the server stops answering.
    """

    error_rate: float = 0.0
    error_kind: ErrorKind = "500"
    stall_after: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.error_rate) and 0 <= self.error_rate <= 1):
            raise ScenarioError(f"--error-rate {self.error_rate} must be a probability in [0, 1]")
        if self.error_kind not in ERROR_KINDS:
            raise ScenarioError(
                f"--error-kind must be one of {', '.join(ERROR_KINDS)}, got {self.error_kind!r}"
            )
        if self.stall_after is not None and self.stall_after < 0:
            raise ScenarioError(f"--stall-after {self.stall_after} must be >= 0")

    @property
    def any(self) -> bool:
        return bool(self.error_rate) or self.stall_after is not None


@dataclass(frozen=True, slots=True)
class Scenario:
    """What every client faces in a bench, with the write-up's values as defaults.

    - `limit`, `latency`: the server's limit and latency model.
    - `n`: requests in the batch.
    - `time_scale`: multiplies every duration (latency, window, sleeps) on the
      wall clock; figures are reported in scenario seconds (time scale 1).
    - `seed`: run i of every client uses latency seed `seed + i`.
    - `api`: the endpoint the batch goes to (the write-up's `GET /chat`);
      `rpm`, `tpm`: requests and tokens per minute for a token-limited API
      (None: not limited that way; room for the LLM endpoint); `itpm`,
      `otpm`: Anthropic's input and output tokens per minute, and
      `otpm_charge` how its output is charged ("produced" or "max-tokens";
      None: the server's default).
    - `rpd`: requests per day (Gemini); `day_minutes`: the length of a day in
      scenario minutes (None: 1440) and `day_start`: the Pacific time of day
      (HH:MM) at which the server's day clock starts (None: 00:00), for an API
      with a daily quota.
    - `faults`: what the bench's own server injects.
    - `requests`: for `api="openai"` or `"gemini"`, the JSONL request set every client
      sends (None: the seeded default set of `n`, see `request_bodies`).
    - `headers`: for `api="openai"`, whether the server sends the
      `x-ratelimit-*` headers (False: `--no-ratelimit-headers`, so a client
      learns the limits from 429 bodies alone).
    """

    limit: Limit = Limit()
    latency: Latency = Latency()
    n: int = _CLIENT.n
    time_scale: float = 1.0
    seed: int = 0
    api: Api = "chat"
    rpm: int | None = None
    tpm: int | None = None
    itpm: int | None = None
    otpm: int | None = None
    rpd: int | None = None
    otpm_charge: str | None = None
    day_minutes: float | None = None
    day_start: str | None = None
    faults: Faults = Faults()
    requests: str | None = None
    headers: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ScenarioError(f"n must be at least 1 request, got {self.n!r}")
        check_time_scale(self.time_scale)
        if self.api not in APIS:
            raise ScenarioError(f"api must be one of {', '.join(APIS)}, got {self.api!r}")
        from mock_server.endpoints.llm_limits import check_per_minute

        if self.otpm_charge not in (None, *OTPM_CHARGES):
            raise ScenarioError(
                f"otpm_charge must be one of {', '.join(OTPM_CHARGES)}, got {self.otpm_charge!r}"
            )
        for name in ("rpm", "tpm", "itpm", "otpm", "rpd"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ScenarioError(f"{name} must be a whole number >= 1 or unset, got {value!r}")
            try:
                check_per_minute(f"--{name}", value or 0)
            except RatebenchError as exc:
                raise ScenarioError(str(exc)) from None
        if self.day_minutes is not None and not (
            math.isfinite(self.day_minutes) and 1 <= self.day_minutes <= MINUTES_A_DAY
        ):
            raise ScenarioError(
                f"day_minutes {self.day_minutes!r} must be between 1 and {MINUTES_A_DAY} "
                "scenario minutes"
            )
        if self.day_start is not None:
            parse_day_start(self.day_start)

    # -- what derives from it ------------------------------------------------------

    def seconds(self, wall: float) -> float:
        """Wall seconds to scenario seconds."""
        return wall / self.time_scale

    def server_kwargs_with(
        self, endpoint_args: tuple[str, ...], seed: int | None = None
    ) -> dict[str, Any]:
        """Keyword arguments of `mock_server.processes.server.MockServer` for this scenario,
        with its endpoint's own flags (`bench.endpoints.registry.server_kwargs` adds them)."""
        extra: tuple[str, ...] = ()
        if self.faults.any:
            extra += (
                "--error-rate",
                repr(self.faults.error_rate),
                "--error-kind",
                self.faults.error_kind,
            )
            if self.faults.stall_after is not None:
                extra += ("--stall-after", str(self.faults.stall_after))
        extra += endpoint_args
        return {
            "rate": str(self.limit),
            "strategy": self.limit.strategy,
            "latency": str(self.latency),
            "seed": self.seed if seed is None else seed,
            "time_scale": self.time_scale,
            "extra_args": extra,
        }

    def config_with(
        self,
        url: str,
        endpoint_knobs: Mapping[str, Any],
        overrides: Mapping[str, KnobValue] | Overrides = (),
    ) -> ClientConfig:
        """The knobs every client gets: derived from the scenario, then `overrides`.

        The bucket's rate and capacity and the pool's workers follow the limit
        (2/s, 2 and 2 for 2 per second), the deadline the batch's size
        (`default_deadline`); batch size, time scale and the server's strategy
        are the scenario's. `overrides` may set any of `OVERRIDABLE`; ConfigError for
        another name or a value no client can use.
        """
        knobs = dict(overrides)
        unknown = sorted(set(knobs) - set(OVERRIDABLE))
        if unknown:
            raise ConfigError(
                f"{', '.join(unknown)} cannot be overridden: choose from {', '.join(OVERRIDABLE)}"
            )
        derived: dict[str, Any] = {
            "url": url,
            "n": self.n,
            "time_scale": self.time_scale,
            # Clients that follow the server's rule are told which it is, as an
            # API's documentation would say.
            "server_strategy": self.limit.strategy,
            # A client that speaks several APIs sends in this one's format.
            "api": self.api,
            "rate": self.limit.per_second,
            "capacity": self.limit.count,
            # The write-up sized its pool to the limit's count: 2 threads for 2/s.
            "workers": self.limit.count,
            "deadline": self.default_deadline(),
        }
        derived.update(endpoint_knobs)
        derived.update(knobs)
        return ClientConfig(**derived)

    def default_deadline(self) -> float:
        """Scenario seconds after which a run gives up, unless the user says otherwise.

        The write-up's 600 s, or ten times what the slowest default policy
        needs when that is longer: a pool of `count` workers takes about
        n × latency / count, a paced client n / rate. No run that would end
        is cut off, and none that hangs runs for ever.
        """
        per_request = max(self.limit.window, self.latency.hi) / self.limit.count
        slowest = self.n * per_request + self.latency.hi
        return max(_CLIENT.deadline, math.ceil(10 * slowest))

    def retry_sleeps(self, config: ClientConfig) -> list[float]:
        """Scenario seconds slept before each retry under `config` ([3, 6, 12, 24] by default)."""
        return RetryPolicy.from_config(config).schedule()

    # -- records -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": {
                "count": self.limit.count,
                "window": self.limit.window,
                "strategy": self.limit.strategy,
            },
            "latency": {"kind": self.latency.kind, "lo": self.latency.lo, "hi": self.latency.hi},
            "n": self.n,
            "time_scale": self.time_scale,
            "seed": self.seed,
            "api": self.api,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "itpm": self.itpm,
            "otpm": self.otpm,
            "otpm_charge": self.otpm_charge,
            "rpd": self.rpd,
            "day_minutes": self.day_minutes,
            "day_start": self.day_start,
            "faults": {
                "error_rate": self.faults.error_rate,
                "error_kind": self.faults.error_kind,
                "stall_after": self.faults.stall_after,
            },
            "requests": self.requests,
            "headers": self.headers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """The scenario a record stored; ScenarioError (naming the problem) if it is not one."""
        try:
            limit, latency, faults = data["limit"], data["latency"], data.get("faults") or {}
            return cls(
                limit=Limit(_int(limit["count"]), float(limit["window"]), limit["strategy"]),
                latency=Latency(latency["kind"], float(latency["lo"]), float(latency["hi"])),
                n=_int(data["n"]),
                time_scale=float(data["time_scale"]),
                seed=_int(data["seed"]),
                api=data.get("api", "chat"),
                rpm=data.get("rpm"),
                tpm=data.get("tpm"),
                itpm=data.get("itpm"),
                otpm=data.get("otpm"),
                otpm_charge=data.get("otpm_charge"),
                rpd=data.get("rpd"),
                day_minutes=data.get("day_minutes"),
                day_start=data.get("day_start"),
                faults=Faults(
                    float(faults.get("error_rate", 0.0)),
                    faults.get("error_kind", "500"),
                    faults.get("stall_after"),
                ),
                requests=data.get("requests"),
                headers=bool(data.get("headers", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ScenarioError):
                raise
            raise ScenarioError(f"not a scenario record: {exc!r}") from None


#: Minutes in a day at full scale (`Scenario.day_minutes`' default and largest value).
MINUTES_A_DAY = 1440


def parse_day_start(text: str) -> int:
    """`"HH:MM"` (a Pacific time of day) -> minutes after midnight; ScenarioError otherwise."""
    parts = text.strip().split(":")
    if (
        len(parts) == 2
        and all(p.isdigit() and len(p) == 2 for p in parts)
        and int(parts[0]) < 24
        and int(parts[1]) < 60
    ):
        return int(parts[0]) * 60 + int(parts[1])
    raise ScenarioError(
        f"day start {text!r} is not a time of day: write HH:MM, e.g. 00:00 or 17:30"
    )


def _int(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not float(value).is_integer()
    ):
        raise ScenarioError(f"expected a whole number, got {value!r}")
    return int(value)


# -- the edge: strings from a command line -------------------------------------------


def check_time_scale(value: float) -> float:
    """`value` if the server can run at it (`mock_server.settings.check_time_scale`)."""
    from mock_server.vocabulary import check_time_scale as server_check_time_scale

    try:
        return server_check_time_scale(value)
    except RatebenchError as exc:
        raise ScenarioError(str(exc)) from None


def parse_limit(rate: str, strategy: str = "fixed-window") -> Limit:
    """`"2/second"` and a strategy name -> Limit; ScenarioError with the server's message."""
    from mock_server.settings import parse_limit as server_parse_limit
    from mock_server.vocabulary import check_strategy

    try:
        parsed = server_parse_limit(rate)
        checked = check_strategy(strategy)
    except RatebenchError as exc:
        raise ScenarioError(str(exc)) from None
    return Limit(parsed.amount, parsed.window, checked)


def parse_latency(text: str) -> Latency:
    """`"2-5"` -> Latency("randint", 2, 5); `"0.5-1.5"` -> uniform."""
    from mock_server.vocabulary import parse_latency as server_parse_latency

    try:
        parsed = server_parse_latency(text)
    except RatebenchError as exc:
        raise ScenarioError(str(exc)) from None
    kind: LatencyKind = "randint" if parsed.whole_seconds else "uniform"
    return Latency(kind, parsed.low, parsed.high)


def parse_scenario(
    *,
    rate: str = "2/second",
    strategy: str = "fixed-window",
    latency: str = "2-5",
    n: int = _CLIENT.n,
    time_scale: float = 1.0,
    seed: int = 0,
    faults: Faults = Faults(),
) -> Scenario:
    """A Scenario from command-line strings; ScenarioError says what is wrong."""
    return Scenario(
        limit=parse_limit(rate, strategy),
        latency=parse_latency(latency),
        n=n,
        time_scale=time_scale,
        seed=seed,
        faults=faults,
    )


def knobs_of(client: str, config: ClientConfig, *, common: bool = True) -> dict[str, Any]:
    """The knobs `client` ran with under `config`, by name, in its spec's order.

    Only the knobs the client reads (`ClientSpec.knobs`); `common=False` leaves
    out the request loop's (retries, deadline, timeout), which every client shares.
    """
    import clients
    from clients.spec import COMMON_KNOBS

    if client not in clients.REGISTRY:
        return {}  # a shell command (`--command`): the bench set none of its knobs
    names = clients.spec(client).knobs
    # An LLM limit the scenario does not have (None) is no knob of this run.
    return {
        name: getattr(config, name)
        for name in names
        if (common or name not in COMMON_KNOBS)
        and not name.endswith("url")
        and getattr(config, name) is not None
    }


def format_knobs(knobs: Mapping[str, Any]) -> str:
    """`rate 2/s, capacity 2`, for one line of a summary or a table cell."""
    parts = []
    for name, value in knobs.items():
        if name == "rate":
            parts.append(f"rate {_number(float(value))}/s")
        elif name == "pool" and value == 0:
            parts.append("pool unbounded")
        elif name == "requests_file" and value:
            # The run folder's own copy; where it lay on the recording machine is noise.
            parts.append(f"{name} {PurePath(str(value)).name}")
        elif isinstance(value, float):
            parts.append(f"{name} {_number(value)}")
        else:
            parts.append(f"{name} {value}")
    return ", ".join(parts)


def config_to_dict(config: ClientConfig) -> dict[str, Any]:
    """A config as records keep it: every knob but the API key, a secret."""
    return {f.name: getattr(config, f.name) for f in fields(ClientConfig) if f.name != "api_key"}


def config_from_dict(data: Mapping[str, Any]) -> ClientConfig:
    known = {f.name for f in fields(ClientConfig)}
    try:
        return ClientConfig(**{k: v for k, v in data.items() if k in known})
    except (TypeError, ConfigError) as exc:
        raise ScenarioError(f"not a client config record: {exc}") from None


def request_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    """The request set of an LLM scenario (in its API's body format): its file's first
    `n` bodies, or the seeded default set of `n` (`bench.records.requests_file`, seed
    `scenario.seed`)."""
    from pathlib import Path

    from bench.records.requests_file import (
        DEFAULT_MAX_TOKENS,
        DEFAULT_PROMPT_TOKENS,
        make_requests,
        parse_distribution,
        read_requests,
    )
    from clients.infra.request_set import RequestSetError

    if scenario.requests is not None:
        try:
            return read_requests(Path(scenario.requests), scenario.api)[: scenario.n]
        except RequestSetError as exc:
            raise ScenarioError(str(exc)) from None
    return make_requests(
        scenario.n,
        scenario.seed,
        parse_distribution(DEFAULT_PROMPT_TOKENS, "--prompt-tokens"),
        parse_distribution(DEFAULT_MAX_TOKENS, "--max-tokens"),
        api=scenario.api,
    )
