"""Google's Gemini API (`generateContent`) as the bench meets it: requests and input
tokens per minute, requests per day with a day of its own length, a request set in
Gemini's body format, the bound across days, and the models of its clients."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from bench.endpoints.base import Meter, RunNote, TokenMeter, beside_bound
from bench.endpoints.gemini import plots, report, theory
from bench.endpoints.gemini.bound import QuotaError, scenario_bound, scenario_plan
from bench.endpoints.gemini.limits import GeminiLimits
from bench.endpoints.gemini.requests import request_bodies
from bench.endpoints.gemini.scenario import client_knobs, server_args
from bench.endpoints.llm_flags import check_limits, request_set_from_args
from bench.records.requests_file import write_requests
from bench.records.results import REQUESTS_FILE, Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import MINUTES_A_DAY, Overrides, Scenario, ScenarioError
from bench.records.stats import ClientStats
from clients import local_clients
from clients.config import ClientConfig
from clients.spec import ClientSpec
from mock_server.vocabulary import MINUTE, UsageError

_FLAGS = ("rpd", "day_minutes", "day_start")


class GeminiEndpoint:
    name = "gemini"
    replays = False
    llm_flags: tuple[str, ...] = ("rpm", "itpm", "requests")

    def default_clients(self) -> tuple[str, ...]:
        return local_clients("gemini")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        # --rpm, --itpm and --requests are the shared LLM flags (`bench.endpoints.llm_flags`).
        parser.add_argument(
            "--rpd",
            type=int,
            default=None,
            help="with --api gemini: requests per day, the day turning at midnight Pacific "
            "(default: 250)",
        )
        parser.add_argument(
            "--day-minutes",
            dest="day_minutes",
            type=float,
            default=None,
            metavar="N",
            help="with --api gemini: length of a day in scenario minutes, so that a day-bound "
            "batch runs in minutes while a minute keeps its length (default: 1440)",
        )
        parser.add_argument(
            "--day-start",
            dest="day_start",
            default=None,
            metavar="HH:MM",
            help="with --api gemini: Pacific time of day at which the batch starts "
            "(default: 00:00, a whole day ahead)",
        )

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        return [
            f"--{flag.replace('_', '-')}"
            for flag in _FLAGS
            if getattr(args, flag, None) is not None
        ]

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        """The scenario with the quotas, the day and `--requests`; checked."""
        check_limits(args, ("rpm", "itpm", "rpd"))
        requests, n = request_set_from_args(args, scenario.n, self.name)
        try:
            chosen = replace(
                scenario,
                api="gemini",
                rpm=args.rpm,
                itpm=args.itpm,
                rpd=args.rpd,
                day_minutes=args.day_minutes,
                day_start=args.day_start,
                requests=requests,
                n=n,
            )
            scenario_bound(chosen)
        except (QuotaError, ScenarioError) as exc:
            raise UsageError(str(exc)) from None
        return chosen

    def server_args(self, scenario: Scenario) -> tuple[str, ...]:
        return server_args(scenario)

    def client_knobs(self, scenario: Scenario) -> dict[str, Any]:
        return client_knobs(scenario)

    def settings_mismatches(self, settings: dict[str, Any], scenario: Scenario) -> list[str]:
        wrong: list[str] = []
        served = settings.get(self.name) or {}
        limits = GeminiLimits.of(scenario)
        for flag, theirs, ours in (
            ("--rpm", served.get("rpm"), limits.rpm),
            ("--itpm", served.get("itpm"), limits.itpm),
            ("--rpd", served.get("rpd"), limits.rpd),
            ("--day-minutes", served.get("day_minutes"), limits.day_minutes),
            ("--day-start", served.get("day_start"), limits.start_words()),
        ):
            if theirs != ours:
                wrong.append(f"{flag} {theirs}")
        strategy = served.get("strategy")
        if strategy not in (None, scenario.limit.strategy, settings.get("strategy")):
            wrong.append(f"--strategy {self.name}={strategy}")
        return wrong

    def limit_words(self, scenario: Scenario) -> str:
        return GeminiLimits.of(scenario).words()

    def throughput_limit(self, scenario: Scenario) -> tuple[float, str]:
        limits = GeminiLimits.of(scenario)
        slope = min(limits.rpm / MINUTE, limits.rpd / limits.day)
        return slope, f"server quotas ({limits.rpm} RPM, {limits.rpd} RPD): {slope:g} requests/s"

    def meter(self, scenario: Scenario) -> Meter:
        limits = GeminiLimits.of(scenario)
        charges = tuple(p.charge for p in scenario_plan(scenario))
        return Meter(
            MINUTE,
            limits.rpm,
            f"{limits.rpm} RPM",
            (TokenMeter("input tokens", limits.itpm, f"{limits.itpm:,} input TPM", charges),),
            day_requests=limits.rpd,
            day_length=limits.day,
            day_first_end=limits.first_end,
        )

    def estimate(self, spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> float:
        try:
            return scenario_bound(scenario).mean
        except QuotaError:
            return scenario.n / GeminiLimits.of(scenario).rpm * MINUTE

    def prepare(self, scenario: Scenario, run_dir: Path) -> tuple[Scenario, RunNote]:
        """The request set written into the run directory, and the bound beside each run."""
        path = run_dir / REQUESTS_FILE
        write_requests(path, request_bodies(scenario))
        scenario = replace(scenario, requests=str(path.resolve()))
        bound = scenario_bound(scenario)
        print(f"three-quota bound: {bound.words()}; {bound.basis}")
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
        return theory.expected(client, scenario, config, sweep, sim_runs, command)

    def simulation(
        self, scenario: Scenario, names: Sequence[str], overrides: Overrides, runs: int | None
    ) -> str:
        config = scenario.config_with("http://127.0.0.1:8000", client_knobs(scenario), overrides)
        return theory.format_simulation(scenario, names, config)

    def draw_limit_figures(self, run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
        return plots.draw_limit_figures(run_dir, runs)

    def scenario_rows(self, scenario: Scenario) -> list[tuple[str, str]]:
        limits = GeminiLimits.of(scenario)
        day = (
            "a real day"
            if limits.day_minutes == MINUTES_A_DAY
            else f"{limits.day_minutes:g} scenario minutes"
        )
        rows = [
            (
                "server quotas",
                f"{limits.rpm} requests and {limits.itpm:,} input tokens per minute "
                f"({scenario.limit.strategy}, minutes aligned on the server's clock), "
                f"{limits.rpd} requests per day",
            ),
            (
                "the day",
                f"{day}, the batch starting at {limits.start_words()} Pacific: the first "
                f"day ends {limits.first_end:g} s in",
            ),
            ("server latency", "time to first token, then per token answered"),
            ("rate-limit headers", "none (Gemini sends none): a 429's QuotaFailure and RetryInfo"),
        ]
        if scenario.requests:
            rows.append(("request set", PurePath(scenario.requests).name))
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


ENDPOINT = GeminiEndpoint()
