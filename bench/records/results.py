"""The bench's records, and the one place they are written and read.

A results directory holds:

- `runs.jsonl` (`sweep.jsonl` for a sweep): one `RunRecord` per line, appended
  and flushed as soon as the run ends, so that an interrupted or crashed bench
  keeps every run it finished;
- `theory.json`: a `TheoryRecord`, theory's predictions and replays, computed
  once when the measurement was made;
- `summary.json` and `report.md`, plots: derived from the two above alone.

Records are frozen dataclasses, validated when built, and carry a schema
version. Lines of the previous run schema (`ratebench.bench-run/1`, before
the scenario was typed) are read through `_upgrade_v1`, so older results
directories, the committed reference among them, can still be re-drawn.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, cast, get_args

from bench.records.scenario import (
    Faults,
    Scenario,
    ScenarioError,
    config_from_dict,
    config_to_dict,
    parse_scenario,
)
from clients.config import ClientConfig, ConfigError
from clients.infra.records import Attempt, ProcessUsage, RecordError
from mock_server.vocabulary import RatebenchError

RUN_SCHEMA = "ratebench.bench-run/2"
RUN_SCHEMA_V1 = "ratebench.bench-run/1"
THEORY_SCHEMA = "ratebench.theory/1"
SUMMARY_SCHEMA = "ratebench.summary/2"
SHARED_LIMIT_SCHEMA = "ratebench.shared-limit-run/2"
RUNS_FILE = "runs.jsonl"
REQUESTS_FILE = "requests.jsonl"  # an openai scenario's request set, beside its runs
THEORY_FILE = "theory.json"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"

Status = Literal["ok", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)


class ResultsError(RatebenchError):
    """A results directory or file that cannot be used; says how to fix it."""


# -- small typed parts -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Machine:
    """Where a run was timed: stamped when the run is made, never when it is re-drawn."""

    python: str
    platform: str
    cpus: int | None
    hostname: str

    @classmethod
    def here(cls) -> Machine:
        return cls(
            python=sys.version.split()[0],
            platform=platform.platform(),
            cpus=os.cpu_count(),
            hostname=platform.node(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "platform": self.platform,
            "cpus": self.cpus,
            "hostname": self.hostname,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Machine:
        cpus = data.get("cpus")
        return cls(
            python=str(data.get("python", "?")),
            platform=str(data.get("platform", "?")),
            cpus=int(cpus) if isinstance(cpus, int | float) else None,
            hostname=str(data.get("hostname", "?")),
        )


def _opt_names(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """A list of names (Gemini's `refused_by`), or one name (Anthropic's), as a tuple."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{key} must be a list of names or null, got {value!r}")
    return tuple(value)


def _opt_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{key} must be a number or null, got {value!r}")
    return float(value)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{key} must be a whole number or null, got {value!r}")
    return value


#: Fields a server entry leaves out of its record when None (records stay as they were).
OPTIONAL_FIELDS = (
    "tokens_charged",
    "disconnected",
    "input_charged",
    "output_charged",
    "output_charged_later",
    "output_charged_at",
    "refused_by",
    "day",
    "clock",
)


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """One request as the mock server logged it (its `/log`), the ground truth of a run.

    Times are raw `time.monotonic()` readings (`arrival`, `decided`, `left`),
    `time.time()` readings (`wall`, `wall_after`, `window_reset`), or scenario
    seconds (`drawn`); `latency` is the wall seconds slept. Optional fields are
    None where the server had nothing to say (a rejected request draws nothing).
    """

    seq: int
    arrival: float
    accepted: bool | None = None
    status: int | None = None
    decided: float | None = None
    wall: float | None = None
    wall_after: float | None = None
    window_reset: float | None = None
    drawn: float | None = None
    latency: float | None = None
    left: float | None = None
    worker: int | None = None
    rank: int | None = None
    # The OpenAI-compatible endpoint's: tokens counted against the TPM (the
    # charge if admitted, else 0); None on `/chat` and in older records.
    tokens_charged: int | None = None
    # When the server saw the client go before its answer was handed over
    # (`left` is then None); None if it stayed, and in older records.
    disconnected: float | None = None
    # Anthropic's: input tokens charged at admission (ITPM), output tokens charged
    # at admission (OTPM under --otpm-charge max-tokens, else 0), and under
    # `produced` the output charged once produced and when (`time.time()`).
    input_charged: int | None = None
    output_charged: int | None = None
    output_charged_later: int | None = None
    output_charged_at: float | None = None
    # Gemini's: the quotas a 429 names ("rpm", "itpm", "rpd"; Anthropic's log names the
    # one bucket, kept as one name), the day (from 0) the
    # decision fell in, and scenario seconds from the server's clock start (its reset)
    # to it, on which its minutes and days are aligned.
    refused_by: tuple[str, ...] | None = None
    day: int | None = None
    clock: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.arrival):
            raise RecordError(f"server entry {self.seq}: arrival must be a finite time")

    @property
    def rejected(self) -> bool:
        return self.accepted is False

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in OPTIONAL_FIELDS:
            if data[name] is None:
                del data[name]  # records stay as they were
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerEntry:
        try:
            accepted = data.get("accepted")
            if accepted is not None and not isinstance(accepted, bool):
                raise RecordError(f"accepted must be true, false or null, got {accepted!r}")
            return cls(
                seq=int(data["seq"]),
                arrival=float(data["arrival"]),
                accepted=accepted,
                status=_opt_int(data, "status"),
                decided=_opt_float(data, "decided"),
                wall=_opt_float(data, "wall"),
                wall_after=_opt_float(data, "wall_after"),
                window_reset=_opt_float(data, "window_reset"),
                drawn=_opt_float(data, "drawn"),
                latency=_opt_float(data, "latency"),
                left=_opt_float(data, "left"),
                worker=_opt_int(data, "worker"),
                rank=_opt_int(data, "rank"),
                tokens_charged=_opt_int(data, "tokens_charged"),
                disconnected=_opt_float(data, "disconnected"),
                input_charged=_opt_int(data, "input_charged"),
                output_charged=_opt_int(data, "output_charged"),
                output_charged_later=_opt_int(data, "output_charged_later"),
                output_charged_at=_opt_float(data, "output_charged_at"),
                refused_by=_opt_names(data, "refused_by"),
                day=_opt_int(data, "day"),
                clock=_opt_float(data, "clock"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError(f"not a server log entry: {exc!r}") from None


def server_entries(log: Iterable[ServerEntry | Mapping[str, Any]]) -> tuple[ServerEntry, ...]:
    """Typed entries from a server's log, as fetched (dicts) or already typed."""
    return tuple(e if isinstance(e, ServerEntry) else ServerEntry.from_dict(e) for e in log)


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """Which value of which knob a sweep run used."""

    knob: str
    value: float


@dataclass(frozen=True, slots=True)
class CommandRun:
    """A run of a shell command rather than a built-in client, timed as hyperfine does.

    `wall`, `user`, `system`: the whole process's seconds (start-up included),
    from the shell's own rusage; `exit_code`: its exit status (negative: the
    signal that ended it, as `subprocess` says).
    """

    command: str
    wall: float
    user: float
    system: float
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CommandRun | None:
        if data is None:
            return None
        return cls(
            command=str(data["command"]),
            wall=float(data["wall"]),
            user=float(data["user"]),
            system=float(data["system"]),
            exit_code=int(data["exit_code"]),
        )


# -- the run record ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of one client: what it was told, what it did, what the server saw.

    - `scenario`: what every client of the bench faced; `config`: the knobs
      this client ran with (derived from the scenario), `overrides`: the names
      of those the user set instead.
    - `run`: the client's run number (from 0); `seed`: the server's latency seed.
    - `wall_start`: `time.time()` when the run began; `started`: the batch's
      start on `time.monotonic()` (attempt times count from it).
    - `makespan`: batch start to last response in wall seconds (`seconds` gives
      scenario seconds).
    - `status`: "failed" when the server misbehaved, with `reason`.
    - `machine`: where it ran (None only for an old record with no summary).
    - `sweep`: the knob value, for a sweep's runs.
    - `command`: for a shell command's run (`--command`), the command and its
      process times; its attempts are the server's log, one per request.
    - `usage`: the client process's CPU during the batch and its peak memory,
      for a client run in a process of its own (None otherwise, and in
      records written before it was kept).
    """

    SCHEMA: ClassVar[str] = RUN_SCHEMA

    client: str
    run: int
    seed: int
    scenario: Scenario
    config: ClientConfig
    overrides: tuple[str, ...]
    machine: Machine | None
    wall_start: float
    started: float
    makespan: float
    attempts: tuple[Attempt, ...]
    server_log: tuple[ServerEntry, ...]
    status: Status = "ok"
    reason: str | None = None
    sweep: SweepPoint | None = None
    command: CommandRun | None = None
    usage: ProcessUsage | None = None

    def __post_init__(self) -> None:
        if self.run < 0:
            raise RecordError(f"run must be >= 0, got {self.run}")
        if not (math.isfinite(self.makespan) and self.makespan >= 0):
            raise RecordError(f"makespan must be >= 0 seconds, got {self.makespan!r}")
        if self.status not in STATUSES:
            raise RecordError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if (self.status == "failed") != (self.reason is not None):
            raise RecordError("a failed run needs a reason, and only a failed run has one")

    # -- derived figures -------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def n(self) -> int:
        return self.config.n

    @property
    def seconds(self) -> float:
        """Makespan in scenario seconds."""
        return self.scenario.seconds(self.makespan)

    @property
    def completed(self) -> int:
        """Requests that got an answer (one attempt came back ok)."""
        return len({a.request for a in self.attempts if a.outcome == "ok"})

    @property
    def incomplete(self) -> int:
        return self.n - self.completed

    @property
    def rejections(self) -> int:
        """429s as the server logged them: the figure every table uses."""
        return sum(1 for e in self.server_log if e.rejected)

    @property
    def client_rejections(self) -> int:
        """429s as the client counted them; should equal `rejections`."""
        return sum(1 for a in self.attempts if a.outcome == "rate_limited")

    # -- JSON ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "client": self.client,
            "run": self.run,
            "seed": self.seed,
            "scenario": self.scenario.to_dict(),
            "config": config_to_dict(self.config),
            "overrides": list(self.overrides),
            "machine": None if self.machine is None else self.machine.to_dict(),
            "wall_start": self.wall_start,
            "started": self.started,
            "makespan": self.makespan,
            "status": self.status,
            "reason": self.reason,
            "sweep": _sweep_dict(self.sweep),
            "attempts": [a.to_dict() for a in self.attempts],
            "server_log": [e.to_dict() for e in self.server_log],
        } | (
            ({} if self.command is None else {"command": self.command.to_dict()})
            | ({} if self.usage is None else {"usage": self.usage.to_dict()})
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record of this schema; RecordError or ScenarioError saying what is wrong.

        Every field is checked for its type, not converted: a line whose
        `run` is "3" or whose `attempts` is a string is damaged, and is said
        to be rather than read as something it never was.
        """
        try:
            machine = data.get("machine")
            if machine is not None and not isinstance(machine, Mapping):
                raise RecordError(f"machine must be an object or null, got {machine!r}")
            overrides = _list(data, "overrides", required=False)
            if not all(isinstance(name, str) for name in overrides):
                raise RecordError(f"overrides must be a list of names, got {overrides!r}")
            status = _str(data, "status")
            reason = data.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise RecordError(f"reason must be text or null, got {reason!r}")
            return cls(
                client=_str(data, "client"),
                run=_whole(data, "run"),
                seed=_whole(data, "seed"),
                scenario=Scenario.from_dict(_object(data, "scenario")),
                config=config_from_dict(_object(data, "config")),
                overrides=tuple(overrides),
                machine=None if machine is None else Machine.from_dict(machine),
                wall_start=_number(data, "wall_start"),
                started=_number(data, "started"),
                makespan=_number(data, "makespan"),
                attempts=tuple(Attempt.from_dict(_obj(a)) for a in _list(data, "attempts")),
                server_log=server_entries(_obj(e) for e in _list(data, "server_log")),
                status=cast(Status, status),
                reason=reason,
                sweep=_sweep_point(data.get("sweep")),
                command=CommandRun.from_dict(data.get("command")),
                usage=ProcessUsage.from_dict(data.get("usage")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, RecordError | ScenarioError):
                raise
            raise RecordError(f"missing or malformed field: {exc!r}") from None


def _missing(key: str) -> RecordError:
    return RecordError(f"the field {key!r} is missing")


def _str(data: Mapping[str, Any], key: str) -> str:
    if key not in data:
        raise _missing(key)
    value = data[key]
    if not isinstance(value, str):
        raise RecordError(f"{key} must be text, got {value!r}")
    return value


def _whole(data: Mapping[str, Any], key: str) -> int:
    if key not in data:
        raise _missing(key)
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{key} must be a whole number, got {value!r}")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    if key not in data:
        raise _missing(key)
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in data:
        raise _missing(key)
    return _obj(data[key], key)


def _obj(value: Any, key: str = "an entry") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{key} must be an object, got {value!r}")
    return value


def _list(data: Mapping[str, Any], key: str, required: bool = True) -> list[Any]:
    if key not in data:
        if required:
            raise _missing(key)
        return []
    value = data[key]
    if not isinstance(value, list):
        raise RecordError(f"{key} must be a list, got {value!r}")
    return value


def _sweep_dict(point: SweepPoint | None) -> dict[str, Any] | None:
    return None if point is None else {"knob": point.knob, "value": point.value}


def _sweep_point(data: Mapping[str, Any] | None) -> SweepPoint | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise RecordError(f"sweep must be an object or null, got {data!r}")
    return SweepPoint(_str(data, "knob"), _number(data, "value"))


def _upgrade_v1(data: Mapping[str, Any], machine: Machine | None) -> RunRecord:
    """A `ratebench.bench-run/1` line as a record of today's schema.

    Version 1 stored the scenario as the bench's flat settings, strings
    included ("2/second", "2-5"), which are parsed here, once; the client's
    knobs were ClientConfig's defaults plus `--retry`, `--deadline` and a
    sweep's `knobs`. It stored no machine: the caller passes the one its
    summary.json named, if any.
    """
    old = data["scenario"]
    scenario = parse_scenario(
        rate=str(old["rate"]),
        strategy=str(old.get("strategy", "fixed-window")),
        latency=str(old["latency"]),
        n=int(old["n"]),
        time_scale=float(data.get("time_scale", old["time_scale"])),
        seed=int(old["seed"]),
        faults=Faults(
            float(old.get("error_rate") or 0.0),
            old.get("error_kind", "500"),
            old.get("stall_after"),
        ),
    )
    knobs: dict[str, Any] = dict(old.get("knobs") or ())
    defaults = ClientConfig()
    for name in ("retry", "deadline"):
        if name in old and old[name] != getattr(defaults, name):
            knobs[name] = old[name]
    config = ClientConfig(
        n=scenario.n,
        time_scale=scenario.time_scale,
        server_strategy=scenario.limit.strategy,
        **knobs,
    )
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise RecordError(f"reason must be text or null, got {reason!r}")
    return RunRecord(
        client=_str(data, "client"),
        run=_whole(data, "run"),
        seed=_whole(data, "seed"),
        scenario=scenario,
        config=config,
        overrides=tuple(knobs),
        machine=machine,
        wall_start=_number(data, "wall_start"),
        started=_number(data, "started"),
        makespan=_number(data, "makespan"),
        attempts=tuple(Attempt.from_dict(_obj(a)) for a in _list(data, "attempts")),
        server_log=server_entries(_obj(e) for e in _list(data, "server_log")),
        status=cast(Status, _str(data, "status")),
        reason=reason,
        sweep=_sweep_point(data.get("sweep")),
    )


# -- theory, stored beside the measurement -----------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """What theory expects of one client in one scenario (one sweep value), in
    scenario seconds.

    - `bound`, `bound_stddev`: the best schedule that keeps the limit.
    - `little_*`: Little's law, throughput = min(in flight / mean latency, limit,
      the client's own pace), and the makespan n / throughput it implies.
    - `predicted_*`: the simulator's model of the client (None: no model,
      `no_model` says why).
    - `schedule`: for a client whose send times are fixed in advance, the exact
      expected makespan of that schedule if no send were rejected.
    """

    client: str
    bound: float
    bound_stddev: float
    sweep: SweepPoint | None = None
    little_throughput: float | None = None
    little_makespan: float | None = None
    little_bottleneck: str | None = None
    predicted_mean: float | None = None
    predicted_stddev: float | None = None
    predicted_rejections: float | None = None
    predicted_failed: float | None = None
    no_model: str | None = None
    schedule: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["sweep"] = _sweep_dict(self.sweep)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expected:
        bottleneck = data.get("little_bottleneck")
        no_model = data.get("no_model")
        return cls(
            client=str(data["client"]),
            bound=float(data["bound"]),
            bound_stddev=float(data["bound_stddev"]),
            sweep=_sweep_point(data.get("sweep")),
            little_throughput=_opt_float(data, "little_throughput"),
            little_makespan=_opt_float(data, "little_makespan"),
            little_bottleneck=None if bottleneck is None else str(bottleneck),
            predicted_mean=_opt_float(data, "predicted_mean"),
            predicted_stddev=_opt_float(data, "predicted_stddev"),
            predicted_rejections=_opt_float(data, "predicted_rejections"),
            predicted_failed=_opt_float(data, "predicted_failed"),
            no_model=None if no_model is None else str(no_model),
            schedule=_opt_float(data, "schedule"),
        )


@dataclass(frozen=True, slots=True)
class Replayed:
    """One measured run replayed on its own latency draws (scenario seconds):
    through theory's model of its client (`model`, None without a model or when
    the model needed more draws than the server made) and through the best
    schedule (`best_possible`)."""

    client: str
    run: int
    model: float | None
    best_possible: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "run": self.run,
            "model": self.model,
            "best_possible": self.best_possible,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Replayed:
        return cls(
            client=str(data["client"]),
            run=int(data["run"]),
            model=_opt_float(data, "model"),
            best_possible=_opt_float(data, "best_possible"),
        )


@dataclass(frozen=True, slots=True)
class TheoryRecord:
    """theory.json: everything theory says about a results directory's runs.

    `sim_runs`: virtual runs behind each prediction (None if unknown, for
    figures carried over from an older summary.json).
    """

    SCHEMA: ClassVar[str] = THEORY_SCHEMA

    expected: tuple[Expected, ...]
    replays: tuple[Replayed, ...] = ()
    sim_runs: int | None = None

    def for_client(self, client: str, sweep: SweepPoint | None = None) -> Expected | None:
        return next((e for e in self.expected if e.client == client and e.sweep == sweep), None)

    @property
    def bound(self) -> tuple[float, float] | None:
        """(mean, σ) of the bound when every entry shares one, else None."""
        bounds = {(e.bound, e.bound_stddev) for e in self.expected}
        return bounds.pop() if len(bounds) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "time_unit": "scenario seconds",
            "sim_runs": self.sim_runs,
            "expected": [e.to_dict() for e in self.expected],
            "replays": [r.to_dict() for r in self.replays],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TheoryRecord:
        return cls(
            expected=tuple(Expected.from_dict(e) for e in data["expected"]),
            replays=tuple(Replayed.from_dict(r) for r in data.get("replays", ())),
            sim_runs=_opt_int(data, "sim_runs"),
        )


def write_theory(run_dir: Path, theory: TheoryRecord) -> None:
    write_json(run_dir / THEORY_FILE, theory.to_dict())


def load_theory(run_dir: Path) -> TheoryRecord | None:
    """theory.json, or the theory an older summary.json or sweep.json carried; None if none.

    ResultsError for a theory.json that cannot be read.
    """
    path = run_dir / THEORY_FILE
    if path.is_file():
        data = _read_json(path)
        if data.get("schema") != THEORY_SCHEMA:
            raise ResultsError(f"{path} is not a ratebench theory file (schema {THEORY_SCHEMA})")
        try:
            return TheoryRecord.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{path} is not a valid theory record: {exc}") from None
    return _legacy_theory(run_dir)


def upgrade_theory(run_dir: Path) -> TheoryRecord | None:
    """`load_theory`, first writing theory.json when the theory came from an older
    summary.json or sweep.json: re-drawing rewrites those, and the theory must
    outlive them."""
    theory = load_theory(run_dir)
    if theory is not None and not (run_dir / THEORY_FILE).is_file():
        write_theory(run_dir, theory)
    return theory


def _legacy_theory(run_dir: Path) -> TheoryRecord | None:
    """Theory's fields of a summary.json or sweep.json written before theory.json existed."""
    fields = (
        "little_throughput",
        "little_makespan",
        "little_bottleneck",
        "predicted_mean",
        "predicted_stddev",
        "predicted_rejections",
        "predicted_failed",
    )
    rows: list[tuple[str, SweepPoint | None, dict[str, Any]]]
    summary = _read_json_if_any(run_dir / SUMMARY_FILE)
    if summary.get("schema") == "ratebench.summary/1":
        rows = [(str(r["command"]), None, r) for r in summary.get("results", []) if "bound" in r]
    else:
        sweep = _read_json_if_any(run_dir / "sweep.json")
        if sweep.get("schema") != "ratebench.sweep/1":
            return None
        rows = [
            (str(sweep["client"]), SweepPoint(str(sweep["knob"]), float(r["value"])), r)
            for r in sweep.get("values", [])
            if "bound" in r
        ]
    expected = tuple(
        Expected.from_dict(
            {
                "client": client,
                "sweep": _sweep_dict(point),
                "bound": row["bound"],
                "bound_stddev": row.get("bound_stddev", 0.0),
                **{k: row.get(k) for k in fields},
            }
        )
        for client, point, row in rows
    )
    return TheoryRecord(expected=expected) if expected else None


# -- the record of `python -m bench redis` -------------------------------------------


@dataclass(frozen=True, slots=True)
class SharedLimitRun:
    """One run of P client processes against an N-worker server, judged from its log.

    Times in scenario seconds; `bound` is the best makespan any client keeping
    the limit could have had on the latencies the server drew.
    """

    SCHEMA: ClassVar[str] = SHARED_LIMIT_SCHEMA

    cell: str
    storage: str
    workers: int
    client: str
    procs: int
    run: int
    seed: int
    scenario: Scenario
    machine: Machine
    started: float
    makespan: float
    bound: float
    completed: int
    max_accepted_per_window: int
    max_arrived_per_window: int
    accepted_by_worker: tuple[tuple[str, int], ...]
    attempts: tuple[Attempt, ...]
    server_log: tuple[ServerEntry, ...]
    status: Status = "ok"
    reason: str | None = None

    @property
    def rejections(self) -> int:
        return sum(1 for e in self.server_log if e.status == 429)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "cell": self.cell,
            "storage": self.storage,
            "workers": self.workers,
            "client": self.client,
            "procs": self.procs,
            "run": self.run,
            "seed": self.seed,
            "scenario": self.scenario.to_dict(),
            "machine": self.machine.to_dict(),
            "started": self.started,
            "makespan": self.makespan,
            "bound": self.bound,
            "completed": self.completed,
            "rejections": self.rejections,
            "max_accepted_per_window": self.max_accepted_per_window,
            "max_arrived_per_window": self.max_arrived_per_window,
            "accepted_by_worker": dict(self.accepted_by_worker),
            "status": self.status,
            "reason": self.reason,
            "attempts": [a.to_dict() for a in self.attempts],
            "server_log": [e.to_dict() for e in self.server_log],
        }


# -- files ---------------------------------------------------------------------------


class Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


LATEST = "latest"


def check_name(name: str, flag: str = "--name") -> str:
    """`name` if it is one plain folder name: it may not climb out of OUT
    (`..`, `a/b`), be OUT itself (`.`), or take the place of OUT/latest."""
    if not name.strip() or name in (".", "..", LATEST) or any(c in name for c in "/\\\0"):
        raise ResultsError(
            f"{flag} {name!r} must be one plain folder name (not empty, '.', '..' or "
            f"'{LATEST}', no '/'), e.g. {flag} quick-run"
        )
    return name


def check_out(out: str | os.PathLike[str], flag: str = "--out") -> Path:
    """OUT as a path; an empty string is refused rather than read as the current folder."""
    if isinstance(out, str) and not out.strip():
        raise ResultsError(f"{flag} is empty: give a folder for the results, e.g. {flag} results")
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ResultsError(f"{flag} {path} is a file, not a folder: give a folder")
    return path


def new_run_dir(out: str | os.PathLike[str], name: str | None = None, prefix: str = "") -> Path:
    """Create a fresh `out/<name>/` (default `out/<prefix><timestamp>/`), exclusively.

    A folder holds one scenario: two benches never share one. A timestamp
    already taken (two benches in one second) gets `-2`, `-3`, ...; a `name`
    already taken is refused, since whoever chose it will read OUT/NAME and
    must not find the older run there under the newer one's name. `out/latest`
    is not moved here, only once the folder holds a record (`mark_latest`).
    """
    root = check_out(out)
    stamp = prefix + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    chosen = stamp if name is None else check_name(name)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for suffix in range(1, 1000):
            run_dir = root / (chosen if suffix == 1 else f"{chosen}-{suffix}")
            try:
                run_dir.mkdir()  # exclusive: of two benches, one wins each name
                break
            except FileExistsError:
                if name is not None:
                    raise ResultsError(
                        f"{run_dir} already exists: pick another --name, or move that "
                        "folder away (one folder holds one run of one scenario)"
                    ) from None
        else:
            raise ResultsError(f"{root} has 999 folders named {chosen}-N: clear some out")
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ResultsError(
            f"cannot write results under {root}: {exc.strerror or exc}; pick another --out"
        ) from None
    return run_dir


def check_writable(run_dir: Path) -> None:
    """ResultsError, before any work, if files cannot be written into `run_dir`."""
    probe = run_dir / f".write-test-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ResultsError(
            f"cannot write into {run_dir}: {exc.strerror or exc}; copy the folder somewhere "
            "writable (cp -r) and re-draw the copy"
        ) from None


def mark_latest(run_dir: Path) -> None:
    """Point `run_dir`'s parent/latest at it: swapped in one rename, so a reader
    never finds it missing; a folder of that name, or a read-only OUT, is left alone."""
    latest = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}-{os.getpid()}"
    with contextlib.suppress(OSError):
        if latest.exists() and not latest.is_symlink():
            return
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, latest)


class RunLog:
    """Appends records to a JSON-lines file, one whole line at a time.

    `latest`: once the first record is on disk, point the folder's
    parent/latest at the folder (never before: a bench that failed before
    its first run must not leave latest on an empty folder).
    """

    def __init__(self, path: Path, latest: bool = False) -> None:
        self.path = path
        self.latest = latest

    def append(self, record: Record) -> None:
        line = json.dumps(record.to_dict(), separators=(",", ":")) + "\n"
        # One write of a whole line, then fsync: a kill between runs can never
        # leave half a record behind.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if self.latest:
            mark_latest(self.path.parent)
            self.latest = False

    def rewrite(self, records: Sequence[Record]) -> None:
        """Replace the file with `records`, in their order, at once: a new file beside
        it, synced, then renamed over it, so that a kill leaves the old or the new."""
        spare = self.path.with_name(self.path.name + ".new")
        with spare.open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record.to_dict(), separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(spare, self.path)


def load_runs(run_dir: Path, file: str = RUNS_FILE) -> list[RunRecord]:
    """Every run of `run_dir/file`; one clear ResultsError for anything that is not."""
    path = run_dir / file
    if not run_dir.is_dir():
        raise ResultsError(
            f"{run_dir} is not a directory: give a results directory such as results/latest"
        )
    if not path.is_file():
        raise ResultsError(
            f"{run_dir} has no {file}: give a directory written by "
            "`python -m bench`, such as results/latest"
        )
    runs: list[RunRecord] = []
    old_machine: list[Machine | None] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ResultsError(f"cannot read {path}: {why or exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise ResultsError(
                f"{where} is not valid JSON: the file is corrupted; "
                "delete that line or re-run the bench"
            ) from None
        schema = data.get("schema") if isinstance(data, dict) else None
        try:
            if schema == RUN_SCHEMA:
                runs.append(RunRecord.from_dict(data))
            elif schema == RUN_SCHEMA_V1:
                if not old_machine:
                    old_machine.append(_summary_machine(run_dir))
                runs.append(_upgrade_v1(data, old_machine[0]))
            else:
                raise ResultsError(
                    f"{where} is not a ratebench run record (schema {RUN_SCHEMA}, "
                    f"or {RUN_SCHEMA_V1} from older versions; found {schema!r}); "
                    "re-run the bench"
                )
        except (
            RecordError,
            ScenarioError,
            ConfigError,
            LookupError,
            TypeError,
            ValueError,
            AttributeError,
        ) as exc:
            # The v1 upgrade converts as it reads; anything it trips on is
            # the same damaged line.
            raise ResultsError(
                f"{where} is not a valid run record ({exc}): the file is corrupted; "
                "delete that line or re-run the bench"
            ) from None
    if not runs:
        raise ResultsError(f"{path} holds no runs: the bench stopped before finishing one")
    return [_with_local_request_set(run, run_dir) for run in runs]


def _with_local_request_set(run: RunRecord, run_dir: Path) -> RunRecord:
    """A run whose request set was written beside it reads that copy: the path it
    recorded is where the bench ran, which a moved or cloned directory lacks."""
    recorded = run.scenario.requests
    local = run_dir / REQUESTS_FILE
    if recorded is None or Path(recorded).is_file() or not local.is_file():
        return run
    return replace(run, scenario=replace(run.scenario, requests=str(local)))


def _summary_machine(run_dir: Path) -> Machine | None:
    """The machine an older summary.json named: version 1 run lines carried none."""
    machine = _read_json_if_any(run_dir / SUMMARY_FILE).get("machine")
    return Machine.from_dict(machine) if isinstance(machine, dict) else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ResultsError(f"{path} cannot be read as JSON: delete it and re-run") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path} is not a JSON object: delete it and re-run")
    return data


def _read_json_if_any(path: Path) -> dict[str, Any]:
    try:
        return _read_json(path)
    except ResultsError:
        return {}


def write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so that readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def machines(runs: Sequence[RunRecord]) -> list[Machine]:
    """The distinct machines the runs were made on, in order of first appearance."""
    seen: list[Machine] = []
    for run in runs:
        if run.machine is not None and run.machine not in seen:
            seen.append(run.machine)
    return seen
