"""The OpenAI-compatible `POST /v1/chat/completions` as the bench meets it: requests
and tokens per minute, a request set, the two-limit bound, and the models of the
clients written for it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from bench.endpoints.base import Meter, RunNote, TokenMeter, beside_bound
from bench.endpoints.llm_flags import check_limits, request_set_from_args
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
from bench.records.requests_file import write_requests
from bench.records.results import REQUESTS_FILE, Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario, request_bodies
from bench.records.stats import ClientStats
from clients import local_clients
from clients.config import ClientConfig
from clients.spec import ClientSpec
from mock_server.endpoints.openai.settings import DEFAULTS
from mock_server.vocabulary import MINUTE, UsageError


class OpenAIEndpoint:
    name = "openai"
    # Replays re-draw /chat's latencies; this endpoint's are not replayed (yet).
    replays = False
    llm_flags: tuple[str, ...] = ("rpm", "tpm", "requests", "headers")

    def default_clients(self) -> tuple[str, ...]:
        return local_clients("openai")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """None of its own: --rpm, --tpm, --requests and the headers are shared."""

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        return []

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        """The scenario with `--rpm`, `--tpm`, `--requests` and the headers; checked."""
        check_limits(args, ("rpm", "tpm"))
        requests, n = request_set_from_args(args, scenario.n, self.name)
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
        given = OpenAILimits.of(scenario)
        tokens = TokenMeter("tokens", limits.tokens, f"{given.tpm} TPM", charges)
        return Meter(
            limits.window,
            limits.requests,
            f"{given.rpm} RPM",
            (tokens,),
            bucket=scenario.limit.strategy == "token-bucket",
        )

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
        plain = beside_bound(bound.mean)

        def beside(record: RunRecord) -> str:
            text = plain(record)
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
