"""Anthropic's `POST /v1/messages` as the bench meets it: three token buckets (requests,
input tokens, output tokens per minute), a request set in the Messages format, the
three-bucket bound, and the models of the clients that speak it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from bench.endpoints.anthropic import plots, report, theory
from bench.endpoints.anthropic.bound import ThreeBucketError, scenario_bound, scenario_plan
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.endpoints.anthropic.scenario import client_knobs, server_args
from bench.endpoints.base import Meter, RunNote, TokenMeter, beside_bound
from bench.endpoints.llm_flags import check_limits, request_set_from_args
from bench.records.requests_file import write_requests
from bench.records.results import REQUESTS_FILE, Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario, request_bodies
from bench.records.stats import ClientStats
from clients import local_clients
from clients.config import OTPM_CHARGES, ClientConfig
from clients.spec import ClientSpec
from mock_server.vocabulary import MINUTE, UsageError


class AnthropicEndpoint:
    name = "anthropic"
    replays = False
    llm_flags: tuple[str, ...] = ("rpm", "itpm", "otpm", "requests", "headers")

    def default_clients(self) -> tuple[str, ...]:
        return local_clients("anthropic")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--otpm-charge",
            choices=OTPM_CHARGES,
            default=None,
            help="with --api anthropic: when output tokens are charged: produced (Anthropic's "
            "current docs: a request starts while the output bucket is not empty, its real "
            "output charged once produced) or max-tokens (the docs of 2025: max_tokens needed "
            "and charged at the start) (default: produced)",
        )

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        return ["--otpm-charge"] if getattr(args, "otpm_charge", None) is not None else []

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        """The scenario with the three limits, the charge mode, `--requests` and the
        headers; checked (a request no bucket holds is one line)."""
        check_limits(args, ("rpm", "itpm", "otpm"))
        if scenario.limit.strategy != "token-bucket" and getattr(args, "strategy", None):
            raise UsageError(
                f"--strategy {scenario.limit.strategy}: Anthropic's limits are token buckets "
                "(its server keeps them so); leave --strategy out or give token-bucket"
            )
        requests, n = request_set_from_args(args, scenario.n, self.name)
        limits = AnthropicLimits.of(
            replace(
                scenario, rpm=args.rpm, itpm=args.itpm, otpm=args.otpm, otpm_charge=args.otpm_charge
            )
        )
        chosen = replace(
            scenario,
            limit=replace(scenario.limit, strategy="token-bucket"),
            api="anthropic",
            rpm=limits.rpm,
            itpm=limits.itpm,
            otpm=limits.otpm,
            otpm_charge=limits.otpm_charge,
            requests=requests,
            n=n,
            headers=args.headers is not False,
        )
        try:
            scenario_bound(chosen)
        except ThreeBucketError as exc:
            raise UsageError(str(exc)) from None
        return chosen

    def server_args(self, scenario: Scenario) -> tuple[str, ...]:
        return server_args(scenario)

    def client_knobs(self, scenario: Scenario) -> dict[str, Any]:
        return client_knobs(scenario)

    def settings_mismatches(self, settings: dict[str, Any], scenario: Scenario) -> list[str]:
        wrong: list[str] = []
        served = settings.get(self.name) or {}
        limits = AnthropicLimits.of(scenario)
        for flag, key, ours in (
            ("--rpm", "rpm", limits.rpm),
            ("--itpm", "itpm", limits.itpm),
            ("--otpm", "otpm", limits.otpm),
            ("--otpm-charge", "otpm_charge", limits.otpm_charge),
        ):
            if served.get(key) != ours:
                wrong.append(f"{flag} {served.get(key)}")
        if served.get("headers", True) != scenario.headers:
            wrong.append("--no-ratelimit-headers" if scenario.headers else "--ratelimit-headers")
        return wrong

    def limit_words(self, scenario: Scenario) -> str:
        return AnthropicLimits.of(scenario).words()

    def throughput_limit(self, scenario: Scenario) -> tuple[float, str]:
        rpm = AnthropicLimits.of(scenario).rpm
        slope = rpm / MINUTE
        return slope, f"server limit ({rpm} RPM): {slope:g} requests/s, from t = 0"

    def meter(self, scenario: Scenario) -> Meter:
        """The three buckets, each request charged its input tokens and its
        `max_tokens` (under `produced` the most it can be charged: the view cannot
        see what an answer produced)."""
        planned = scenario_plan(scenario)
        limits = AnthropicLimits.of(scenario)
        return Meter(
            MINUTE,
            limits.rpm,
            f"{limits.rpm} RPM",
            (
                TokenMeter(
                    "input tokens",
                    limits.itpm,
                    f"{limits.itpm} ITPM",
                    tuple(p.input_tokens for p in planned),
                ),
                TokenMeter(
                    "output tokens",
                    limits.otpm,
                    f"{limits.otpm} OTPM",
                    tuple(p.max_tokens for p in planned),
                ),
            ),
            bucket=True,
        )

    def estimate(self, spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> float:
        try:
            return scenario_bound(scenario).mean
        except ThreeBucketError:
            return scenario.n / AnthropicLimits.of(scenario).rpm * MINUTE

    def prepare(self, scenario: Scenario, run_dir: Path) -> tuple[Scenario, RunNote]:
        """The request set written into the run directory, and the bound beside each run."""
        path = run_dir / REQUESTS_FILE
        write_requests(path, request_bodies(scenario))
        scenario = replace(scenario, requests=str(path.resolve()))
        bound = scenario_bound(scenario)
        print(f"three-bucket bound: {bound.words()}; {bound.basis}")
        return scenario, beside_bound(bound.mean)

    def expect(
        self,
        client: str,
        scenario: Scenario,
        config: ClientConfig,
        sweep: SweepPoint | None,
        sim_runs: int | None,
        command: str | None,
    ) -> Expected:
        return theory.expected_three_bucket(client, scenario, sweep, config, sim_runs, command)

    def simulation(
        self, scenario: Scenario, names: Sequence[str], overrides: Overrides, runs: int | None
    ) -> str:
        return theory.format_three_bucket_simulation(scenario, names)

    def draw_limit_figures(self, run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
        return plots.draw_limit_figures(run_dir, runs)

    def scenario_rows(self, scenario: Scenario) -> list[tuple[str, str]]:
        limits = AnthropicLimits.of(scenario)
        rows = [
            (
                "server limits",
                f"{limits.words()}: three token buckets, each a minute's worth, refilled "
                "continuously",
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
                "anthropic-ratelimit-* and retry-after on every answer"
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


ENDPOINT = AnthropicEndpoint()
