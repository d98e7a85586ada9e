"""What an API is to the bench: everything that differs between the endpoints it serves.

An endpoint module (`bench.endpoints.chat`, `bench.endpoints.openai`) declares an
object with these parts; the bench, the live view, the report and the plots ask
`bench.endpoints.registry` for the scenario's endpoint and never ask which one it is.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.records.results import Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario
from bench.records.stats import ClientStats
from clients.config import ClientConfig
from clients.spec import ClientSpec


@dataclass(frozen=True, slots=True)
class TokenMeter:
    """One limit on tokens the view meters: `limit` per window, each request charged
    `charges[request]` as the server charges it at admission (`what`: the limit's
    name, "tokens", "input tokens"; `text`: its words, "10000 TPM")."""

    what: str
    limit: int
    text: str
    charges: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Meter:
    """What the view meters sends against: `requests` per `window` scenario seconds
    and each limit on tokens (`tokens`: none on `/chat`, one on the OpenAI-compatible
    endpoint, two on Anthropic's). `bucket`: the limits are token buckets of that
    much, refilled at that much a window, so the view shows what each bucket holds
    rather than what a window has counted. On an API
    with a daily quota, `day_requests` a day of `day_length` scenario seconds, the
    first day ending `day_first_end` seconds after the batch's start."""

    window: float
    requests: int
    text: str
    tokens: tuple[TokenMeter, ...] = ()
    bucket: bool = False
    day_requests: int | None = None
    day_length: float = 0.0
    day_first_end: float = 0.0


#: Written beside each run's line as it ends ("  1.02 × bound (183.8 s)"), or "".
RunNote = Callable[[RunRecord], str]


def beside_bound(bound: float) -> RunNote:
    """The note beside each run of an endpoint with a bound (`bound` seconds): what the
    run lost, and its makespan as a multiple of the bound."""

    def beside(record: RunRecord) -> str:
        lost = f", {record.incomplete} lost" if record.incomplete else ""
        return f"{lost}  {record.seconds / bound:5.2f} × bound ({bound:.2f} s)"

    return beside


class Endpoint(Protocol):
    """One API the mock server serves, as the bench meets it."""

    #: The `--api` name, and the `api` of the clients written for it.
    name: str
    #: Theory re-draws a run's own latencies (`bench.theory.replay`) on this endpoint.
    replays: bool
    #: The shared LLM flags it reads (`bench.endpoints.llm_flags`: "rpm", "requests", ...).
    llm_flags: tuple[str, ...]

    def default_clients(self) -> tuple[str, ...]:
        """The clients a bench runs when `--clients` is not given."""
        ...

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The bench's flags of this endpoint alone (none for one with nothing of its
        own; the shared LLM flags are added once, `bench.endpoints.llm_flags`)."""
        ...

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        """This endpoint's own flags that `args` set, as typed."""
        ...

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        """The scenario with this endpoint's flags; UsageError says what is wrong."""
        ...

    def server_args(self, scenario: Scenario) -> tuple[str, ...]:
        """The mock server's flags for this endpoint's limits."""
        ...

    def client_knobs(self, scenario: Scenario) -> dict[str, Any]:
        """What the clients are told beyond the scenario's common knobs."""
        ...

    def settings_mismatches(self, settings: dict[str, Any], scenario: Scenario) -> list[str]:
        """Where a running server's limits differ from the scenario ("--flag value")."""
        ...

    def limit_words(self, scenario: Scenario) -> str:
        """The limits in a few words, for progress lines."""
        ...

    def throughput_limit(self, scenario: Scenario) -> tuple[float, str]:
        """The long-run sends per second the limit allows, and its legend."""
        ...

    def meter(self, scenario: Scenario) -> Meter:
        """What the live view meters sends against."""
        ...

    def estimate(self, spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> float:
        """Rough scenario seconds of one run, for the progress bar's weights."""
        ...

    def prepare(self, scenario: Scenario, run_dir: Path) -> tuple[Scenario, RunNote]:
        """Before the runs: what the run directory must hold, and each run's note."""
        ...

    def expect(
        self,
        client: str,
        scenario: Scenario,
        config: ClientConfig,
        sweep: SweepPoint | None,
        sim_runs: int | None,
        command: str | None,
    ) -> Expected:
        """Everything theory says about `client` run with `config` in `scenario`."""
        ...

    def simulation(
        self, scenario: Scenario, names: Sequence[str], overrides: Overrides, runs: int | None
    ) -> str:
        """`--simulate`: the comparison as theory predicts it, no server."""
        ...

    def draw_limit_figures(self, run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
        """The figures of the runs against this endpoint's limits."""
        ...

    def scenario_rows(self, scenario: Scenario) -> list[tuple[str, str]]:
        """The report's rows on what the server enforced and how it answered."""
        ...

    def figure_lines(self) -> list[str]:
        """The report's words and links for `draw_limit_figures`' figures."""
        ...

    def client_sections(
        self,
        runs: Sequence[RunRecord],
        stats: dict[str, ClientStats],
        theory: TheoryRecord | None,
    ) -> list[str]:
        """The report's section on each client."""
        ...
