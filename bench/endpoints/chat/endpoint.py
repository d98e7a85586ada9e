"""The write-up's `GET /chat` as the bench meets it: one limit (slowapi's), latencies
drawn per request, and theory's models of every client that speaks it."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.endpoints.base import Meter, RunNote
from bench.endpoints.chat import plots, report, theory
from bench.records.results import Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario
from bench.records.stats import ClientStats, by_client, ok_runs
from bench.theory.schedules import collision_waves
from clients import WRITEUP_CLIENTS
from clients.config import ClientConfig
from clients.spec import ClientSpec


class ChatEndpoint:
    name = "chat"
    replays = True
    llm_flags: tuple[str, ...] = ()

    def default_clients(self) -> tuple[str, ...]:
        return WRITEUP_CLIENTS

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """`/chat` is the scenario's common flags alone (--rate, --latency, ...)."""

    def given_flags(self, args: argparse.Namespace) -> list[str]:
        return []

    def scenario_from_args(self, scenario: Scenario, args: argparse.Namespace) -> Scenario:
        return scenario

    def server_args(self, scenario: Scenario) -> tuple[str, ...]:
        return ()

    def client_knobs(self, scenario: Scenario) -> dict[str, Any]:
        return {}

    def settings_mismatches(self, settings: dict[str, Any], scenario: Scenario) -> list[str]:
        wrong: list[str] = []
        same_limit = int(settings["limit"]) == scenario.limit.count and math.isclose(
            float(settings["window"]), scenario.limit.window, rel_tol=1e-9
        )
        if not same_limit:
            wrong.append(f"--rate {settings['rate']}")
        low, high = (float(x) for x in settings["latency"])
        if (low, high) != (scenario.latency.lo, scenario.latency.hi):
            wrong.append(f"--latency {low:g}-{high:g}")
        return wrong

    def limit_words(self, scenario: Scenario) -> str:
        return str(scenario.limit)

    def throughput_limit(self, scenario: Scenario) -> tuple[float, str]:
        slope = scenario.limit.per_second
        return slope, f"server limit ({scenario.limit}): {slope:g} sends/s, from t = 0"

    def meter(self, scenario: Scenario) -> Meter:
        limit = scenario.limit
        return Meter(limit.window, limit.count, str(limit), bucket=limit.strategy == "token-bucket")

    def estimate(self, spec: ClientSpec, scenario: Scenario, config: ClientConfig) -> float:
        """From the scenario alone, by the client's policy: a cap on requests in flight
        takes n × latency / cap; no limit waits out its retry waves; the rest go about
        as fast as the limit allows."""
        s = scenario
        latency = s.latency.mean
        if spec.caps_in_flight:
            return s.n * latency / config.workers + latency / 2
        if spec.policy == "no limit":
            sleeps = s.retry_sleeps(config)
            waves = collision_waves(s.n, s.limit.count)
            return sum(sleeps[: len(waves)]) + s.latency.hi
        return s.n / s.limit.per_second + latency

    def prepare(self, scenario: Scenario, run_dir: Path) -> tuple[Scenario, RunNote]:
        return scenario, lambda record: ""

    def expect(
        self,
        client: str,
        scenario: Scenario,
        config: ClientConfig,
        sweep: SweepPoint | None,
        sim_runs: int | None,
        command: str | None,
    ) -> Expected:
        return theory.expect_chat(client, scenario, config, sweep, sim_runs, command)

    def simulation(
        self, scenario: Scenario, names: Sequence[str], overrides: Overrides, runs: int | None
    ) -> str:
        return theory.format_chat_simulation(scenario, names, overrides, runs)

    def draw_limit_figures(self, run_dir: Path, runs: Sequence[RunRecord]) -> list[Path]:
        return plots.draw_limit_figures(run_dir, runs)

    def scenario_rows(self, scenario: Scenario) -> list[tuple[str, str]]:
        limit = scenario.limit
        return [
            ("server limit", f"{limit.words()} ({limit.strategy})"),
            ("server latency", scenario.latency.words()),
        ]

    def figure_lines(self) -> list[str]:
        return report.figure_lines()

    def client_sections(
        self,
        runs: Sequence[RunRecord],
        stats: dict[str, ClientStats],
        theory: TheoryRecord | None,
    ) -> list[str]:
        return report.client_sections(by_client(ok_runs(runs)), stats, theory)


ENDPOINT = ChatEndpoint()
