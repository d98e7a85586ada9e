"""What theory says of a client on `/chat`: the bound, Little's law, the simulator's
prediction and the exact makespan of a fixed send schedule."""

from __future__ import annotations

from collections.abc import Sequence

from bench.records.commands import spec_for
from bench.records.results import Expected, SweepPoint
from bench.records.scenario import Overrides, Scenario
from bench.theory.models import (
    TheoryInput,
    exact_makespan,
    littles_law,
    model_for,
    predict,
    scenario_bound,
    theory_input,
)
from bench.theory.schedules import fixed_sends
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig


def best_possible(s: TheoryInput) -> tuple[float, float]:
    """(mean, σ) of the bound under the scenario's strategy: exact for whole-second
    latencies."""
    b = scenario_bound(s)
    return b.mean, b.stdev


def expect_chat(
    client: str,
    scenario: Scenario,
    config: ClientConfig,
    sweep: SweepPoint | None = None,
    sim_runs: int | None = None,
    command: str | None = None,
) -> Expected:
    """Everything theory says about `client` run with `config` in `scenario`.

    `sim_runs` virtual runs behind the prediction; None: `sim_runs_for(n)`.
    `command`: the shell command a --command client ran (theory has no model of
    a program, whatever its name).
    """
    spec = spec_for(client, command)
    s = theory_input(scenario, config)
    mean, stdev = best_possible(s)
    # Little's law: in flight / mean latency, capped by the limit; a client that
    # paces itself cannot go faster than its own rate either.
    in_flight = config.workers if spec.caps_in_flight else s.n
    little = littles_law(s.n, in_flight, s.latency.mean, s.limit, s.window)
    throughput, bottleneck = little.throughput, str(little.bottleneck)
    if spec.paces and config.rate < throughput:
        throughput, bottleneck = config.rate, "client rate"
    sends = fixed_sends(spec, scenario, config)
    schedule = (
        exact_makespan(sends, int(s.latency.low), int(s.latency.high)).mean
        if sends and s.latency.whole_seconds
        else None
    )
    predicted: dict[str, float] = {}
    if model_for(client, command) is not None:
        p = predict(client, s, runs=sim_runs or sim_runs_for(s.n), seed=0)
        predicted = {
            "predicted_mean": p.makespan.mean,
            "predicted_stddev": p.makespan.stdev,
            "predicted_rejections": p.rejections.mean,
            "predicted_failed": p.failed.mean,
        }
    return Expected(
        client=client,
        bound=mean,
        bound_stddev=stdev,
        sweep=sweep,
        little_throughput=throughput,
        little_makespan=s.n / throughput,
        little_bottleneck=bottleneck,
        no_model=None if predicted else spec.no_model,
        schedule=schedule,
        **predicted,
    )


def format_chat_simulation(
    scenario: Scenario, names: Sequence[str], overrides: Overrides = (), runs: int | None = None
) -> str:
    """The comparison as theory predicts it, in the summary's layout.

    `runs` virtual runs per client; None: `sim_runs_for(n)`.
    """
    config = scenario.config_with("http://127.0.0.1/chat", {}, overrides)
    s = theory_input(scenario, config)
    runs = runs or sim_runs_for(s.n)
    mean, stdev = best_possible(s)
    lines = [
        f"Predicted by simulation ({runs} virtual runs each; no server), "
        f"limit {scenario.limit} ({scenario.limit.strategy}), {scenario.n} requests, "
        f"latency {scenario.latency} s:",
        "",
    ]
    for number, client in enumerate(names, start=1):
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
    schedule = (
        "limit-many at once, then one every T / limit: each at the first instant the "
        "bucket holds it"
        if s.strategy == "token-bucket"
        else "limit-many sends at t = 0, T, 2T, ..."
    )
    lines.append(f"Best possible ({schedule}): {mean:.3f} s ± {stdev:.3f} s")
    return "\n".join(lines)
