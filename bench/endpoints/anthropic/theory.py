"""What theory says of a client on Anthropic's Messages endpoint: the three-bucket
bound, and its simulated runs where it has a model (`bench.endpoints.anthropic.models`)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.endpoints.anthropic.bound import scenario_bound, scenario_plan
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.endpoints.anthropic.models import predict_three_bucket
from bench.endpoints.anthropic.scenario import client_knobs
from bench.records.commands import spec_for
from bench.records.results import Expected, SweepPoint
from bench.records.scenario import Scenario
from bench.theory.llm_runs import LLMPrediction, expected_of, simulation_lines
from bench.theory.models import model_for
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig


def expected_three_bucket(
    client: str,
    scenario: Scenario,
    sweep: SweepPoint | None = None,
    config: ClientConfig | None = None,
    sim_runs: int | None = None,
    command: str | None = None,
) -> Expected:
    """What theory says of `client` in an anthropic scenario: the bound, and the
    client's simulated runs where it has a model."""
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
    if model_for(client, command) is None:
        return None, spec_for(client, command).no_model or "no model"
    planned = scenario_plan(scenario)
    config = config or scenario.config_with("http://127.0.0.1:8000/chat", client_knobs(scenario))
    runs = sim_runs or sim_runs_for(len(planned))
    limits = AnthropicLimits.of(scenario)
    return predict_three_bucket(client, planned, limits, config, runs, scenario.headers), ""


def format_three_bucket_simulation(scenario: Scenario, names: Sequence[str]) -> str:
    """`--simulate` for an anthropic scenario: each client's simulated runs, and the bound."""
    b = scenario_bound(scenario)
    lines = [
        f"Theory (no server) for {scenario.n} requests at "
        f"{AnthropicLimits.of(scenario).words()} (token buckets):",
        "",
    ]
    lines += simulation_lines(names, lambda name: _predicted(name, scenario), b.mean)
    lines += [
        f"Best possible under the three buckets: {b.words()}",
        f"  {b.basis}",
        f"  {b.lower_words()}",
    ]
    return "\n".join(lines)
