"""The OpenAI-compatible `POST /v1/chat/completions` as the bench meets it: requests
and tokens per minute, a request set, the two-limit bound, and the models of the
clients written for it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from bench.endpoints.base import Meter, RunNote
from bench.endpoints.openai import plots, report, theory
from bench.endpoints.openai.bound import (
    TwoLimitError,
    run_phase,
    scenario_bound,
    scenario_phase_bound,
    scenario_plan,
)
from bench.endpoints.openai.limits import OpenAILimits
from bench.endpoints.openai.scenario import client_knobs, server_args
from bench.records.requests_file import read_requests, write_requests
from bench.records.results import REQUESTS_FILE, Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario, request_bodies
from bench.records.stats import ClientStats
from clients import local_clients
from clients.config import ClientConfig
from clients.infra.request_set import RequestSetError
from clients.spec import ClientSpec
from mock_server.endpoints.openai.settings import DEFAULTS
from mock_server.vocabulary import MINUTE, UsageError


class OpenAIEndpoint:
    name = "openai"
    # Replays re-draw /chat's latencies; this endpoint's are not replayed (yet).
    replays = False

    def default_clients(self) -> tuple[str, ...]:
        return local_clients("openai")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--rpm",
            type=int,
            default=None,
            help="with --api openai or gemini: requests per minute (default: openai 60, gemini 10)",
        )
        parser.add_argument(
            "--tpm",
            type=int,
            default=None,
            help="with --api openai: tokens per minute, charged as prompt + max_tokens "
            "(default: 10000)",
        )
        parser.add_argument(
            "--requests",
            default=None,
            metavar="FILE",
            help="with --api openai or gemini: the request set every client sends "
            "(`python -m bench requests [--api gemini]`); default: a seeded set of -n requests",
        )
        parser.add_argument(
            "--ratelimit-headers",
            dest="headers",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="with --api openai: whether the server sends the x-ratelimit-* headers "
            "(default: it does); with --no-ratelimit-headers a client that learns the limits "
            "(header_adaptive) has only the 429s' bodies to go by",
        )

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        """This endpoint's flags that `args` set, as typed."""
        given = [f"--{f}" for f in ("rpm", "tpm", "requests") if getattr(args, f) is not None]
        if args.headers is not None:
            given.append("--no-ratelimit-headers" if not args.headers else "--ratelimit-headers")
        return given

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        """The scenario with `--rpm`, `--tpm`, `--requests` and the headers; checked."""
        for flag in ("rpm", "tpm"):
            value = getattr(args, flag)
            if value is not None and value < 1:
                raise UsageError(f"--{flag} {value} allows nothing: use at least 1")
        n = scenario.n
        requests = None
        if args.requests is not None:
            path = Path(args.requests)
            if not path.is_file():
                raise UsageError(
                    f"--requests {path}: no such file (write one with `python -m bench requests`)"
                )
            requests = str(path.resolve())
            try:
                lines = len(read_requests(path))
            except RequestSetError as exc:
                raise UsageError(str(exc)) from None
            if args.n is not None and args.n > lines:
                raise UsageError(f"-n {args.n} is more than the {lines} requests in {path}")
            n = lines if args.n is None else args.n
        chosen = replace(
            scenario,
            api="openai",
            rpm=args.rpm or DEFAULTS.rpm,
            tpm=args.tpm or DEFAULTS.tpm,
            requests=requests,
            n=n,
            headers=args.headers is not False,
        )
        try:
            scenario_bound(chosen)
        except TwoLimitError as exc:
            raise UsageError(str(exc)) from None
        return chosen

    def server_args(self, scenario: Scenario) -> tuple[str, ...]:
        return server_args(scenario)

    def client_knobs(self, scenario: Scenario) -> dict[str, Any]:
        return client_knobs(scenario)

    def settings_mismatches(self, settings: dict[str, Any], scenario: Scenario) -> list[str]:
        wrong: list[str] = []
        served = settings.get(self.name) or {}
        for flag, theirs, ours in (
            ("--rpm", served.get("rpm"), scenario.rpm),
            ("--tpm", served.get("tpm"), scenario.tpm),
        ):
            if theirs != ours:
                wrong.append(f"{flag} {theirs}")
        if served.get("headers", True) != scenario.headers:
            wrong.append("--no-ratelimit-headers" if scenario.headers else "--ratelimit-headers")
        # The server's own strategy for this API (`--strategy openai=NAME`), where
        # it differs from the one every API was told (which the runner checks).
        strategy = served.get("strategy")
        if strategy not in (None, scenario.limit.strategy, settings.get("strategy")):
            wrong.append(f"--strategy {self.name}={strategy}")
        return wrong

    def limit_words(self, scenario: Scenario) -> str:
        return OpenAILimits.of(scenario).words()

    def throughput_limit(self, scenario: Scenario) -> tuple[float, str]:
        rpm = OpenAILimits.of(scenario).rpm
        slope = rpm / MINUTE
        return slope, f"server limit ({rpm} RPM): {slope:g} requests/s, from t = 0"

    def meter(self, scenario: Scenario) -> Meter:
        """The endpoint's RPM and TPM with the request set's charges (the two-limit
        bound's plan: the server's own count)."""
        planned, limits = scenario_plan(scenario)
        charges = tuple(p.charge for p in planned)
        rpm = OpenAILimits.of(scenario).rpm
        return Meter(limits.window, limits.requests, f"{rpm} RPM", limits.tokens, charges)

    def estimate(self, spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> float:
        return scenario.n / OpenAILimits.of(scenario).rpm * MINUTE

    def prepare(self, scenario: Scenario, run_dir: Path) -> tuple[Scenario, RunNote]:
        """The request set written into the run directory (every client and any later
        reader sends or reads that file), and the two-limit bound beside each run."""
        path = run_dir / REQUESTS_FILE
        write_requests(path, request_bodies(scenario))
        scenario = replace(scenario, requests=str(path.resolve()))
        bound = scenario_bound(scenario)
        print(f"two-limit bound: {bound.words()}; {bound.basis}")
        counter = scenario.limit.strategy == "sliding-window-counter"

        def beside(record: RunRecord) -> str:
            lost = f", {record.incomplete} lost" if record.incomplete else ""
            text = f"{lost}  {record.seconds / bound.mean:5.2f} × bound ({bound.mean:.2f} s)"
            if counter and record.server_log:
                # The counter's bound depends on where in its clock window the batch
                # started, which the server's log tells: this run's own bound.
                phase = run_phase(record)
                own, _ = scenario_phase_bound(scenario, phase)
                text += f", {record.seconds / own:.2f} × its phase's ({own:.2f} s at {phase:.1f} s)"
            return text

        return scenario, beside

    def expect(
        self,
        client: str,
        scenario: Scenario,
        config: ClientConfig,
        sweep: SweepPoint | None,
        sim_runs: int | None,
        command: str | None,
    ) -> Expected:
        return theory.expected_two_limit(client, scenario, sweep, config, sim_runs, command)

    def simulation(
        self, scenario: Scenario, names: Sequence[str], overrides: Overrides, runs: int | None
    ) -> str:
        return theory.format_two_limit_simulation(scenario, names)

    def draw_limit_figures(self, run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
        return plots.draw_limit_figures(run_dir, runs)

    def scenario_rows(self, scenario: Scenario) -> list[tuple[str, str]]:
        # /v1/chat/completions: two limits, and an LLM's latency, not /chat's.
        rows = [
            (
                "server limits",
                f"{scenario.rpm} requests and {scenario.tpm} tokens per minute "
                f"({scenario.limit.strategy}), tokens charged at admission",
            ),
            (
                "server latency",
                "time to first token, then per token answered (the endpoint's defaults)",
            ),
        ]
        if scenario.requests:
            rows.append(("request set", PurePath(scenario.requests).name))
        rows.append(
            (
                "rate-limit headers",
                "x-ratelimit-* on every answer"
                if scenario.headers
                else "off (--no-ratelimit-headers): 429 bodies only",
            )
        )
        return rows

    def figure_lines(self) -> list[str]:
        return report.figure_lines()

    def client_sections(
        self,
        runs: Sequence[RunRecord],
        stats: dict[str, ClientStats],
        theory: TheoryRecord | None,
    ) -> list[str]:
        return report.client_sections(runs, stats, theory)


ENDPOINT = OpenAIEndpoint()
