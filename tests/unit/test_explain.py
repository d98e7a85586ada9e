"""The report's prose: keyed by policy, filled with the scenario's and theory's stored numbers."""

from __future__ import annotations

import clients
from bench.endpoints.registry import client_config
from bench.records.results import Expected
from bench.records.scenario import Limit, Scenario
from bench.records.stats import ClientStats
from bench.theory.explain import Context, edge_text, theory_text

WRITEUP = Scenario()


def text(client: str, scenario: Scenario = WRITEUP, **stored: object) -> str:
    expected = Expected(client, 8.29, 0.72, **stored) if stored else None  # type: ignore[arg-type]
    config = client_config(scenario, "http://127.0.0.1:1/chat")
    return theory_text(Context(clients.spec(client), scenario, config, expected))


def test_no_limit_is_collision_waves_and_the_retry_sleeps() -> None:
    words = text("naive_gather", predicted_mean=49.1, predicted_stddev=0.93)
    assert "8 + 6 + 4 + 2 = 20 rejections" in words
    assert "3 + 6 + 12 + 24 = 45 s" in words
    assert "predicts 49.10 s ± 0.93 s" in words
    # Another scenario, other numbers: 5 per window leaves one wave of 5.
    assert "rejects the other 5 at once" in text("threads_unbounded", Scenario(limit=Limit(5)))


def test_a_cap_in_flight_is_littles_law_from_the_stored_figures() -> None:
    words = text(
        "async_semaphore",
        little_throughput=2 / 3.5,
        little_makespan=17.5,
        little_bottleneck="concurrency",
    )
    assert "2 / 3.5 s ≈ 0.57 requests/s" in words
    assert "about 17.5 s" in words


def test_pacing_policies_give_their_schedule() -> None:
    assert "first send goes out at 0.5 s and one more every 0.5 s" in text(
        "threads_bucket", schedule=9.11
    )
    assert "about 9.11 s on this schedule" in text("token_bucket", schedule=9.11)
    limiter = text("aiolimiter", schedule=8.61, no_model="library code")
    assert "the burst of 2 fills it and the next send (0.5 s) is rejected" in limiter
    assert "0, 0, 1, 1.5, …, 4.5 s would take 8.61 s" in limiter
    assert "no model of this client: library code" in limiter
    assert "sends at 0, 0.5, 1, 1.5, …, 4.5 s take 8.61 s" in text("aiometer", schedule=8.61)


def test_without_stored_theory_the_prose_still_reads() -> None:
    assert text("sliding_window").startswith("Theory: the best schedule that keeps the limit")
    assert "about the bound:" in text("adaptive")


def test_a_429_theory_did_not_predict_is_explained_beside_it() -> None:
    """token_bucket: theory predicts 0.0 × 429; one run in ten met one at a window's edge."""
    config = client_config(WRITEUP, "http://127.0.0.1:1/chat")
    expected = Expected("token_bucket", 8.29, 0.72, predicted_mean=9.1, predicted_rejections=0.0)
    ctx = Context(clients.spec("token_bucket"), WRITEUP, config, expected)
    met = ClientStats("token_bucket", (9.0,) * 10, (0,) * 9 + (1,), (0,) * 9 + (1,), (0,) * 10)
    assert "1 of 10 runs met such a window-edge 429" in edge_text(ctx, met)
    clean = ClientStats("token_bucket", (9.0,) * 10, (0,) * 10, (0,) * 10, (0,) * 10)
    assert edge_text(ctx, clean) == ""
    # naive_gather's theory predicts its 429s: nothing to explain.
    naive = Context(clients.spec("naive_gather"), WRITEUP, config, None)
    assert edge_text(naive, met) == ""
