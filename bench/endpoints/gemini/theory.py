"""What theory says of a client on the Gemini endpoint: the bound under its three
quotas across days, and its simulated runs where it has a model
(`bench.endpoints.gemini.models`)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.endpoints.gemini.bound import scenario_bound, scenario_plan
from bench.endpoints.gemini.limits import GeminiLimits
from bench.endpoints.gemini.models import QuotaPrediction, predict
from bench.records.commands import spec_for
from bench.records.results import Expected, SweepPoint
from bench.records.scenario import Scenario
from bench.theory.llm_runs import expected_of, simulation_lines
from bench.theory.models import model_for
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig

#: The strategy the models follow: the endpoint's default, Google's aligned minute.
MODELLED = "fixed-window"


def expected(
    client: str,
    scenario: Scenario,
    config: ClientConfig,
    sweep: SweepPoint | None = None,
    sim_runs: int | None = None,
    command: str | None = None,
) -> Expected:
    """The bound, and the client's simulated runs where it has a model."""
    b = scenario_bound(scenario)
    return expected_of(
        client, (b.mean, b.stdev), predicted(client, scenario, config, sim_runs, command), sweep
    )


def predicted(
    client: str,
    scenario: Scenario,
    config: ClientConfig,
    sim_runs: int | None = None,
    command: str | None = None,
) -> tuple[QuotaPrediction | None, str]:
    """The client's simulated runs, or None and why there are none."""
    if model_for(client, command) is None:
        return None, spec_for(client, command).no_model or "no model"
    if scenario.limit.strategy != MODELLED:
        return (
            None,
            f"the Gemini models follow the {MODELLED} only, not the {scenario.limit.strategy}",
        )
    planned = scenario_plan(scenario)
    # Each run simulates every day of the batch: fewer runs than the other endpoints'.
    runs = sim_runs or max(10, sim_runs_for(len(planned)) // 10)
    return predict(client, planned, GeminiLimits.of(scenario), config, runs), ""


def format_simulation(scenario: Scenario, names: Sequence[str], config: ClientConfig) -> str:
    """`--simulate` for a gemini scenario: each client's simulated runs (each told
    `config`), and the bound."""
    b = scenario_bound(scenario)
    limits = GeminiLimits.of(scenario)
    lines = [f"Theory (no server) for {scenario.n} requests at {limits.words()}:", ""]
    lines += simulation_lines(
        names, lambda name: predicted(name, scenario, config), b.mean, _after_day_refusal
    )
    lines += [
        f"Best possible under the three quotas: {b.words()}",
        f"  {b.basis}",
        f"  {b.lower_words()}",
    ]
    return "\n".join(lines)


def _after_day_refusal(p: QuotaPrediction) -> list[str]:
    if not p.after_day_refusal:
        return []
    return [
        f"  {p.after_day_refusal:.1f} attempts a run sent in a day after its first "
        "per-day 429 came back"
    ]
