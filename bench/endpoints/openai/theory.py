"""What theory says of a client on the OpenAI-compatible endpoint: the two-limit bound,
and its simulated runs where it has a model (`bench.endpoints.openai.models`)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.endpoints.openai.bound import (
    Buckets,
    Windows,
    scenario_bound,
    scenario_buckets,
    scenario_plan,
)
from bench.endpoints.openai.limits import OpenAILimits
from bench.endpoints.openai.models import (
    MODELLED_STRATEGIES,
    predict_two_limit,
)
from bench.endpoints.openai.scenario import client_knobs
from bench.records.commands import spec_for
from bench.records.results import Expected, SweepPoint
from bench.records.scenario import Scenario
from bench.theory.llm_runs import LLMPrediction, expected_of, simulation_lines
from bench.theory.models import model_for
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig


def expected_two_limit(
    client: str,
    scenario: Scenario,
    sweep: SweepPoint | None = None,
    config: ClientConfig | None = None,
    sim_runs: int | None = None,
    command: str | None = None,
) -> Expected:
    """What theory says of `client` in an openai scenario: the two-limit bound, and
    the client's simulated runs where it has a model (`bench.endpoints.openai.models`; a
    `command`, a program run by --command, has none)."""
    b = scenario_bound(scenario)
    return expected_of(
        client, (b.mean, b.stdev), _predicted(client, scenario, config, sim_runs, command), sweep
    )


def _predicted(
    client: str,
    scenario: Scenario,
    config: ClientConfig | None = None,
    sim_runs: int | None = None,
    command: str | None = None,
) -> tuple[LLMPrediction | None, str]:
    """The client's simulated runs, or None and why there are none."""
    if model_for(client, command) is None:
        return None, spec_for(client, command).no_model or "no model"
    strategy = scenario.limit.strategy
    if strategy not in MODELLED_STRATEGIES:
        return None, (
            f"the two-limit models follow the {' and the '.join(MODELLED_STRATEGIES)} only, "
            f"not the {strategy}"
        )
    planned, windows = scenario_plan(scenario)
    limits: Windows | Buckets = (
        scenario_buckets(scenario) if strategy == "token-bucket" else windows
    )
    config = config or scenario.config_with("http://127.0.0.1:8000/chat", client_knobs(scenario))
    runs = sim_runs or sim_runs_for(len(planned))
    return predict_two_limit(client, planned, limits, config, runs), ""


def format_two_limit_simulation(scenario: Scenario, names: Sequence[str]) -> str:
    """`--simulate` for an openai scenario: each client's simulated runs, and the bound."""
    b = scenario_bound(scenario)
    lines = [
        f"Theory (no server) for {scenario.n} requests at {OpenAILimits.of(scenario).words()} "
        f"({scenario.limit.strategy}):",
        "",
    ]
    lines += simulation_lines(names, lambda name: _predicted(name, scenario), b.mean)
    lines += [
        f"{'Best in file order' if b.phases else 'Best possible'} under both limits: {b.words()}",
        f"  {b.basis}",
        f"  {b.lower_words()}",
    ]
    return "\n".join(lines)
