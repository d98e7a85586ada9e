"""Theory, once: what theory expects of each client, computed when the runs are made.

`theory_for_runs` is called at the end of `python -m bench` and of a sweep,
and its `TheoryRecord` is stored beside the runs (theory.json): the bound,
Little's law, the simulator's prediction, the exact makespan of a fixed send
schedule, and every run replayed on its own latency draws. Summary, plots
and report read that file and never run theory themselves, so re-drawing is
quick and gives the same figures on any machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.records.results import Expected, RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import Overrides, Scenario
from bench.theory.models import (
    Scenario as TheoryScenario,
)
from bench.theory.models import (
    bound,
    exact_makespan,
    littles_law,
    model_for,
    predict,
    scenario_bound,
)
from bench.theory.replay import replay_runs
from bench.theory.schedules import fixed_sends
from clients.config import ClientConfig

#: Virtual runs per client for a small batch (standard error of the predicted
#: mean about 0.01 s for the write-up's 10 requests, σ 0.72 s / √4000).
SIM_RUNS = 4000
#: Simulated requests per client that theory may spend: runs = budget / n.
SIM_BUDGET = 50_000
#: Fewest virtual runs behind a prediction, however large the batch.
MIN_SIM_RUNS = 10


def sim_runs_for(n: int) -> int:
    """Virtual runs per client for a batch of `n` requests: SIM_BUDGET // n, within
    [MIN_SIM_RUNS, SIM_RUNS] (4000 up to n = 12, 1000 at 50, 166 at 300, 50 at
    1,000, 10 from 5,000 on).

    A virtual run costs about 40 µs per attempt, so theory costs about 2 s per
    client at any n from 12 to 5,000 and 0.4 s per 1,000 requests beyond (more
    for a client whose 429s multiply its attempts: naive_gather's five
    attempts per request make 14 s at 10,000 requests). The standard error of
    the predicted mean is σ/√runs, where σ is the run-to-run spread theory
    prints beside the mean; σ shrinks as n grows, since a long batch's
    makespan is its send schedule (fixed by the limit) plus the slowest of its
    last few latencies. At 20 per second and latencies uniform on 1-2 s, the
    bound's σ is 0.045 s at 300 requests and at 10,000; token_bucket's is
    0.13 s at 300 (standard error 0.010 s over 166 runs) and 0.09 s at 10,000
    (0.03 s over 10 runs), sliding_window's 0.04 s at both (0.003 s and
    0.011 s): against makespans of 16 s and 500 s. At the write-up's 10
    requests σ is 0.72 s, 0.011 s over 4000 runs.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 request, got {n}")
    return max(MIN_SIM_RUNS, min(SIM_RUNS, SIM_BUDGET // n))


def best_possible(s: TheoryScenario) -> tuple[float, float]:
    """(mean, σ) of the bound: exact for whole-second latencies."""
    if s.latency == "randint":
        b = bound(s.n, s.limit, s.window, int(s.latency_lo), int(s.latency_hi))
    else:
        b = scenario_bound(s)
    return b.mean, b.stdev


def expect(
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
    if scenario.api == "openai":
        from bench.endpoints.openai.bound import expected_two_limit

        return expected_two_limit(client, scenario, sweep, config, sim_runs, command)
    from bench.running.shell_command import spec_for

    spec = spec_for(client, command)
    s = scenario.theory(config)
    mean, stdev = best_possible(s)
    # Little's law: in flight / mean latency, capped by the limit; a client that
    # paces itself cannot go faster than its own rate either.
    in_flight = config.workers if spec.caps_in_flight else s.n
    little = littles_law(s.n, in_flight, s.mean_latency, s.limit, s.window)
    throughput, bottleneck = little.throughput, str(little.bottleneck)
    if spec.paces and config.rate < throughput:
        throughput, bottleneck = config.rate, "client rate"
    sends = fixed_sends(spec, scenario, config)
    schedule = (
        exact_makespan(sends, int(s.latency_lo), int(s.latency_hi)).mean
        if sends and s.latency == "randint"
        else None
    )
    predicted: dict[str, float] = {}
    if spec.model is not None and model_for(client) is not None:
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


def theory_for_runs(runs: Sequence[RunRecord], sim_runs: int | None = None) -> TheoryRecord:
    """Theory for every client (and sweep value) of `runs`, and every run replayed.

    `sim_runs` virtual runs per prediction; None: `sim_runs_for(n)` for each
    batch size (stored when every prediction used the same number).
    """
    first: dict[tuple[str, SweepPoint | None], RunRecord] = {}
    for run in runs:
        first.setdefault((run.client, run.sweep), run)
    expected = tuple(
        expect(
            client,
            run.scenario,
            run.config,
            sweep,
            sim_runs,
            run.command.command if run.command is not None else None,
        )
        for (client, sweep), run in first.items()
    )
    used = {sim_runs or sim_runs_for(run.scenario.n) for run in first.values()}
    # Replays re-draw /chat's latencies; the LLM endpoint's are not replayed (yet).
    chat = [r for r in runs if r.scenario.api == "chat" and r.command is None]
    return TheoryRecord(
        expected=expected,
        replays=tuple(replay_runs(chat)),
        sim_runs=used.pop() if len(used) == 1 else None,
    )


def format_simulation(
    scenario: Scenario, names: Sequence[str], overrides: Overrides = (), runs: int | None = None
) -> str:
    """The comparison as theory predicts it, in the summary's layout.

    `runs` virtual runs per client; None: `sim_runs_for(n)`.
    """
    if scenario.api == "openai":
        from bench.endpoints.openai.bound import format_two_limit_simulation

        return format_two_limit_simulation(scenario, names)
    config = scenario.client_config("http://127.0.0.1/chat", overrides)
    s = scenario.theory(config)
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
    lines.append(
        f"Best possible (limit-many sends at t = 0, T, 2T, ...): {mean:.3f} s ± {stdev:.3f} s"
    )
    return "\n".join(lines)
