"""Replay: a run's own latency draws through theory's model of its client."""

from __future__ import annotations

import pytest

from bench.endpoints.registry import client_config
from bench.records.results import RunRecord, ServerEntry
from bench.records.scenario import Scenario
from bench.theory.models import model_for, theory_input
from bench.theory.replay import replay, replay_rows, replay_runs, server_draws

SCENARIO = Scenario()
CONFIG = client_config(SCENARIO, "http://127.0.0.1:8000/chat")


def run_with_draws(client: str, draws: list[int], makespan: float) -> RunRecord:
    # Logged in arrival order; the order of acceptance is the order of decision.
    log = tuple(
        ServerEntry(seq=k, arrival=0.0, decided=float(k), accepted=True, drawn=d)
        for k, d in reversed(list(enumerate(draws)))
    )
    return RunRecord(
        client=client,
        run=0,
        seed=0,
        scenario=SCENARIO,
        config=CONFIG,
        overrides=(),
        machine=None,
        wall_start=0.0,
        started=0.0,
        makespan=makespan,
        attempts=(),
        server_log=log,
    )


def test_draws_come_back_in_the_order_the_server_accepted_them() -> None:
    assert server_draws(run_with_draws("token_bucket", [5, 2, 3], 1.0)) == [5.0, 2.0, 3.0]


def test_token_bucket_replay_is_its_schedule_on_the_same_draws() -> None:
    # Sends at 0.5, 1.0, ..., 5.0 s; the k-th accepted takes the k-th draw.
    draws = [5, 2, 2, 2, 2, 2, 2, 2, 2, 4]
    run = run_with_draws("token_bucket", draws, 9.0)
    expected = max(0.5 * (k + 1) + d for k, d in enumerate(draws))  # 9.0
    model = model_for("token_bucket")
    assert model is not None
    assert replay(model, theory_input(SCENARIO, CONFIG), run) == pytest.approx(expected, abs=0.01)


def test_replay_rows_say_what_was_luck() -> None:
    draws = [2] * 10
    run = run_with_draws("thread_pool", draws, 10.05)
    [row] = replay_rows([run], replay_runs([run]))
    # Two workers, five 2 s requests each: 10 s, and the best schedule 4 + 2 = 6 s.
    assert row.replayed == pytest.approx(10.0, abs=0.01)
    assert row.worst_gap == pytest.approx(0.05, abs=0.01)
    assert row.best_possible == pytest.approx(6.0, abs=0.05)


def test_a_run_with_fewer_accepted_draws_than_the_model_needs_is_not_replayed() -> None:
    run = run_with_draws("token_bucket", [2, 2, 2], 3.0)
    [row] = replay_rows([run], replay_runs([run]))
    assert row.replayed is None
