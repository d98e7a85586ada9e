"""How many runs the bench puts side by side (`bench.running.parallel.choose_jobs`),
and `python -m bench diff`'s pairing of two measurements."""

from __future__ import annotations

from dataclasses import replace

from bench.output.run_diff import format_diff, pair_runs
from bench.records.scenario import parse_scenario
from bench.running.parallel import ALONE_IN_FLIGHT, LANES_PER_CORE, choose_jobs
from bench.running.plan import BenchPlan
from tests.helpers import hand_made_runs


def plan(**scenario: object) -> BenchPlan:
    defaults: dict[str, object] = {
        "rate": "2/second",
        "strategy": "fixed-window",
        "latency": "2-5",
        "n": 10,
        "time_scale": 1.0,
        "seed": 0,
    }
    return BenchPlan(scenario=parse_scenario(**(defaults | scenario)))  # type: ignore[arg-type]


def test_the_write_up_runs_side_by_side_up_to_the_lanes_per_core() -> None:
    choice = choose_jobs(plan(), cores=2)
    assert choice.jobs == 30  # the write-up's 3 clients × 10 runs, in one wave
    assert "every run at once" in choice.why
    many = choose_jobs(replace(plan(), runs=100), cores=2)
    assert many.jobs == LANES_PER_CORE * 2
    assert "per core" in many.why
    # Never more lanes than runs.
    assert choose_jobs(replace(plan(), runs=2), cores=2).jobs == 6


def test_compressed_time_costs_more_cpu_per_second_so_fewer_lanes() -> None:
    full = choose_jobs(plan(), cores=2).jobs
    compressed = choose_jobs(plan(time_scale=0.01), cores=2).jobs
    assert 1 <= compressed < full


def test_one_external_server_runs_one_at_a_time() -> None:
    choice = choose_jobs(replace(plan(), url="http://127.0.0.1:8000"), cores=2)
    assert choice.jobs == 1
    assert "--url" in choice.why


def test_thousands_in_flight_need_the_machine_alone() -> None:
    choice = choose_jobs(plan(n=ALONE_IN_FLIGHT * 2), cores=2)
    assert choice.jobs == 1
    assert "naive_gather" in choice.why
    assert "in flight" in choice.why


def test_diff_pairs_runs_by_client_and_seed() -> None:
    runs = hand_made_runs()
    later = [replace(r, makespan=r.makespan + 0.02) for r in runs]
    pairs = pair_runs(runs, later)
    assert len(pairs) == sum(1 for r in runs if r.ok) > 0  # a failed run has no pair
    apart = runs[0].scenario.seconds(0.02)  # 20 ms of wall time, in scenario seconds
    assert all(abs(p.seconds_apart - apart) < 1e-9 for p in pairs)
    text = format_diff(pairs, [0.01, 0.03], ("a", "b"))
    assert f"largest {apart * 1000:.1f} ms" in text
    assert "429s differ in 0 of" in text
    assert "largest 30.0 ms" in text  # the replay errors, for scale
    assert "no run of A" in format_diff(pair_runs(runs, []), [], ("a", "b"))
