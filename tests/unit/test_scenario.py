"""The typed scenario: parsed once, and what derives from it."""

from __future__ import annotations

import pytest

from bench.endpoints.registry import (
    add_scenario_arguments,
    client_config,
    scenario_from_args,
    server_kwargs,
)
from bench.records.scenario import (
    Faults,
    Latency,
    Limit,
    Scenario,
    ScenarioError,
    parse_latency,
    parse_scenario,
)
from bench.theory.models import theory_input
from clients.config import ClientConfig, ConfigError
from mock_server.vocabulary import Latency as ServerLatency
from mock_server.vocabulary import OneLineParser, UsageError


def test_the_write_ups_scenario_is_the_default() -> None:
    scenario = parse_scenario()
    assert scenario == Scenario()
    assert (scenario.limit.count, scenario.limit.window, scenario.limit.strategy) == (
        2,
        1.0,
        "fixed-window",
    )
    assert (scenario.latency.kind, scenario.latency.mean) == ("randint", 3.5)
    assert str(scenario.limit) == "2/second"
    assert str(scenario.latency) == "2-5"


def test_strings_are_parsed_once_into_numbers() -> None:
    scenario = parse_scenario(rate="10/5 seconds", latency="0.5-1.5", n=4, time_scale=0.1)
    assert (scenario.limit.count, scenario.limit.window) == (10, 5.0)
    assert str(scenario.limit) == "10/5seconds"
    assert scenario.latency == Latency("uniform", 0.5, 1.5)
    assert scenario.seconds(0.25) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rate": "2/sec0nd"}, "rate"),
        ({"latency": "5-2"}, "inverted"),
        ({"time_scale": -1.0}, "time scale"),
        ({"n": 0}, "n must be"),
        ({"strategy": "leaky"}, "strategy"),
    ],
)
def test_bad_input_says_what_is_wrong(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ScenarioError, match=fragment):
        parse_scenario(**kwargs)  # type: ignore[arg-type]


def test_one_function_adds_the_scenario_flags_and_reads_them_back() -> None:
    every = OneLineParser()
    add_scenario_arguments(every)
    given = ["-n", "4", "--rate", "10/5 seconds", "--latency", "0.5-1.5", "--error-rate", "0.5"]
    scenario = scenario_from_args(every.parse_args(given))
    assert scenario == Scenario(
        limit=Limit(10, 5.0), latency=Latency("uniform", 0.5, 1.5), n=4, faults=Faults(0.5)
    )
    assert scenario_from_args(every.parse_args([])) == Scenario()
    with pytest.raises(
        UsageError, match="--rpm is for the openai or anthropic or gemini endpoint: add"
    ):
        scenario_from_args(every.parse_args(["--rpm", "30"]))
    with pytest.raises(
        UsageError, match="--itpm is for the anthropic or gemini endpoint: add --api anthr"
    ):
        scenario_from_args(every.parse_args(["--api", "openai", "--itpm", "30"]))
    with pytest.raises(UsageError, match="--rpd is for the gemini endpoint: add --api gemini"):
        scenario_from_args(every.parse_args(["--api", "openai", "--rpd", "30"]))
    # A command that offers some of them, with its own default: the others keep the scenario's.
    some = OneLineParser()
    add_scenario_arguments(some, ("n", "seed"), defaults={"n": 40})
    assert scenario_from_args(some.parse_args(["--seed", "3"])) == Scenario(n=40, seed=3)
    with pytest.raises(SystemExit):
        some.parse_args(["--rate", "1/second"])


def test_faults_are_checked_where_they_are_made() -> None:
    with pytest.raises(ScenarioError, match="--error-rate"):
        Faults(error_rate=2.0)
    with pytest.raises(ScenarioError, match="--stall-after"):
        Faults(stall_after=-1)


def test_a_latency_kind_must_follow_its_bounds() -> None:
    with pytest.raises(ScenarioError, match="kind"):
        Latency("uniform", 2, 5)
    assert parse_latency("3") == Latency("randint", 3, 3)
    # The server's rule for the bounds, whichever way they were given.
    for lo, hi in ((5, 2), (0, 7200), (0, float("inf"))):
        with pytest.raises(ScenarioError, match="low <= high <= 3600 seconds"):
            Latency("randint", lo, hi)


def test_server_arguments_come_from_the_scenario() -> None:
    scenario = Scenario(seed=7, time_scale=0.1, faults=Faults(0.5, "garbage", 3))
    kwargs = server_kwargs(scenario, seed=9)
    assert kwargs["rate"] == "2/second"
    assert kwargs["latency"] == "2-5"
    assert (kwargs["seed"], kwargs["time_scale"]) == (9, 0.1)
    assert kwargs["extra_args"] == (
        "--error-rate",
        "0.5",
        "--error-kind",
        "garbage",
        "--stall-after",
        "3",
    )
    assert server_kwargs(Scenario())["extra_args"] == ()


def test_client_knobs_derive_from_the_scenario_unless_overridden() -> None:
    scenario = Scenario(limit=Limit(10, 5.0, "moving-window"), n=4, time_scale=0.1)
    config = client_config(scenario, "http://127.0.0.1:1/chat")
    assert (config.n, config.time_scale, config.server_strategy) == (4, 0.1, "moving-window")
    assert (config.rate, config.capacity) == (2.0, 10)
    # The write-up sized its pool to the limit's count (2 for 2/second).
    assert config.workers == 10
    assert config.deadline == ClientConfig().deadline  # a small batch keeps 600 s
    tuned = client_config(scenario, "http://127.0.0.1:1/chat", (("workers", 7), ("retry", "none")))
    assert (tuned.workers, tuned.retry) == (7, "none")
    with pytest.raises(ConfigError, match="cannot be overridden"):
        client_config(scenario, "http://127.0.0.1:1/chat", {"n": 3})
    with pytest.raises(ConfigError, match="workers"):
        client_config(scenario, "http://127.0.0.1:1/chat", {"workers": 0})


def test_theory_gets_the_same_scenario() -> None:
    scenario = Scenario(limit=Limit(3, 2.0, "moving-window"), n=6)
    config = client_config(scenario, "http://127.0.0.1:1/chat", {"workers": 3})
    theory = theory_input(scenario, config)
    assert (theory.n, theory.limit, theory.window, theory.strategy) == (6, 3, 2.0, "moving-window")
    assert theory.latency == ServerLatency(2, 5)
    assert (theory.workers, theory.rate, theory.capacity) == (3, 1.5, 3)


def test_a_scenario_survives_its_record() -> None:
    scenario = Scenario(
        limit=Limit(3, 2.0, "sliding-window-counter"),
        latency=Latency("uniform", 0.5, 1.5),
        n=7,
        time_scale=0.2,
        seed=4,
        faults=Faults(0.1, "500", None),
    )
    assert Scenario.from_dict(scenario.to_dict()) == scenario
    with pytest.raises(ScenarioError, match="not a scenario record"):
        Scenario.from_dict({"n": 3})


def test_the_deadline_grows_with_the_batch() -> None:
    small = Scenario(limit=Limit(100, 1.0), latency=Latency("randint", 1, 2), n=10)
    large = Scenario(limit=Limit(100, 1.0), latency=Latency("randint", 1, 2), n=10_000)
    assert small.default_deadline() == 600
    # A pool of 100 at up to 2 s a request needs about 200 s; ten times that.
    assert large.default_deadline() == 2020
    config = client_config(large, "http://127.0.0.1:1/chat")
    assert config.deadline == 2020
    assert client_config(large, "http://127.0.0.1:1/chat", {"deadline": 50}).deadline == 50


def test_each_client_shows_the_knobs_it_reads() -> None:
    from bench.records.scenario import format_knobs, knobs_of

    config = client_config(Scenario(limit=Limit(20, 1.0)), "http://127.0.0.1:1/chat")
    assert knobs_of("thread_pool", config, common=False) == {"workers": 20}
    assert knobs_of("naive_gather", config, common=False) == {"pool": 0}
    bucket = knobs_of("token_bucket", config, common=False)
    assert format_knobs(bucket) == "rate 20/s, capacity 20, initial_tokens 0, pool unbounded"
    assert "retry" in knobs_of("naive_gather", config)
    assert not any(name.endswith("url") for name in knobs_of("shared_window", config))
