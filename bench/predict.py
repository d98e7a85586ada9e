"""Theory beside every measurement: the bound and each client's prediction
for the scenario a bench ran, computed from the scenario alone."""

from __future__ import annotations

from typing import Any

from bench.theory import (
    Scenario,
    bound,
    from_client_config,
    model_for,
    predict,
    scenario_bound,
)
from clients.config import MARGIN, ClientConfig
from mock_server.settings import parse_latency, parse_limit

SIM_RUNS = 4000  # standard error of a predicted mean: about 0.03 s


def theory_scenario(scenario: dict[str, Any]) -> Scenario:
    """The theory's Scenario for a bench's settings (as stored in runs.jsonl)."""
    rate = parse_limit(scenario["rate"])
    latency = parse_latency(scenario["latency"])
    config = ClientConfig(
        n=scenario["n"], retry=scenario["retry"], deadline=scenario.get("deadline", 600.0)
    )
    return from_client_config(
        config,
        limit=rate.amount,
        window=rate.window,
        strategy=scenario["strategy"],
        latency_lo=latency.low,
        latency_hi=latency.high,
        # The client's margin is wall time, the same at every time scale.
        margin=MARGIN / float(scenario.get("time_scale", 1.0)),
    )


def best_possible(s: Scenario) -> tuple[float, float]:
    """(mean, σ) of the bound: exact for whole-second latencies."""
    if s.latency == "randint":
        b = bound(s.n, s.limit, s.window, int(s.latency_lo), int(s.latency_hi))
    else:
        b = scenario_bound(s)
    return b.mean, b.stdev


def theory_fields(scenario: dict[str, Any], client: str, runs: int = SIM_RUNS) -> dict[str, Any]:
    """`predicted_*` and `bound` for one client, in scenario seconds; {} if no model."""
    s = theory_scenario(scenario)
    mean, stdev = best_possible(s)
    fields: dict[str, Any] = {"bound": mean, "bound_stddev": stdev}
    if model_for(client) is not None:
        p = predict(client, s, runs=runs, seed=0)
        fields.update(
            predicted_mean=p.makespan.mean,
            predicted_stddev=p.makespan.stdev,
            predicted_rejections=p.rejections.mean,
        )
    return fields


def format_simulation(scenario: dict[str, Any], clients: list[str], runs: int = SIM_RUNS) -> str:
    """The comparison as theory predicts it, in the summary's layout."""
    s = theory_scenario(scenario)
    mean, stdev = best_possible(s)
    lines = [
        f"Predicted by simulation ({runs} virtual runs each; no server), "
        f"limit {scenario['rate']} ({scenario['strategy']}), {scenario['n']} requests, "
        f"latency {scenario['latency']} s:",
        "",
    ]
    for number, client in enumerate(clients, start=1):
        if model_for(client) is None:
            lines += [f"Model {number}: {client}", "  no model for this client", ""]
            continue
        p = predict(client, s, runs=runs, seed=0)
        m = p.makespan
        lines += [
            f"Model {number}: {client}",
            f"  Time (mean ± σ):   {m.mean:8.3f} s ± {m.stdev:6.3f} s    "
            f"[429s per run: {p.rejections.mean:.1f}]",
            f"  Range (min … max): {m.min:8.3f} s … {m.max:6.3f} s    "
            f"{m.mean / mean:.2f} × the best possible",
            "",
        ]
    lines.append(
        f"Best possible (limit-many sends at t = 0, T, 2T, ...): {mean:.3f} s ± {stdev:.3f} s"
    )
    return "\n".join(lines)
