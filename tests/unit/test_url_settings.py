"""`bench --url` without a server: the OpenAI endpoint's limits compared, and
`--no-ratelimit-headers` in the server's arguments and in the records."""

from __future__ import annotations

from bench.records.scenario import parse_scenario
from bench.running.runner import settings_mismatches


def test_the_openai_limits_are_compared_not_chats() -> None:
    settings = {
        "time_scale": 1.0,
        "strategy": "fixed-window",
        "rate": "9/second",
        "limit": 9,
        "window": 1.0,
        "latency": [1, 1],
        "openai": {"rpm": 20, "tpm": 100000},
    }
    chat = parse_scenario(
        rate="2/second", strategy="fixed-window", latency="2-5", n=10, time_scale=1.0, seed=0
    )
    assert settings_mismatches(settings, chat) == ["--rate 9/second", "--latency 1-1"]
    from dataclasses import replace

    openai = replace(chat, api="openai", rpm=20, tpm=10000)
    assert settings_mismatches(settings, openai) == ["--tpm 100000"]
    # The headers are a setting too: a server without them, a bench told they are on.
    quiet = settings | {"openai": {"rpm": 20, "tpm": 10000, "headers": False}}
    assert settings_mismatches(quiet, openai) == ["--no-ratelimit-headers"]
    assert settings_mismatches(quiet, replace(openai, headers=False)) == []


def test_no_ratelimit_headers_reaches_the_server_and_the_records() -> None:
    from dataclasses import replace

    from bench.endpoints.openai.scenario import server_args as openai_server_args
    from bench.records.scenario import Scenario

    openai = Scenario(api="openai", rpm=20, tpm=10000)
    assert "--no-ratelimit-headers" not in openai_server_args(openai)
    quiet = replace(openai, headers=False)
    assert "--no-ratelimit-headers" in openai_server_args(quiet)
    assert Scenario.from_dict(quiet.to_dict()).headers is False
    older = {k: v for k, v in openai.to_dict().items() if k != "headers"}
    assert Scenario.from_dict(older).headers is True  # records from before the flag


def test_a_token_bucket_server_is_checked_against_the_scenario_strategy() -> None:
    from dataclasses import replace

    bucket = parse_scenario(
        rate="2/second", strategy="token-bucket", latency="2-5", n=10, time_scale=1.0, seed=0
    )
    openai = replace(bucket, api="openai", rpm=20, tpm=10000)
    served = {"rpm": 20, "tpm": 10000, "strategy": "token-bucket"}
    settings = {"time_scale": 1.0, "strategy": "token-bucket", "openai": served}
    assert settings_mismatches(settings, openai) == []
    # --strategy openai=token-bucket alone: /chat's window is what the runner reads.
    windows = settings | {"strategy": "fixed-window"}
    assert settings_mismatches(windows, openai) == ["--strategy fixed-window"]
    # Every API told the bucket but this one: the endpoint names its own.
    mixed = settings | {"openai": served | {"strategy": "moving-window"}}
    assert settings_mismatches(mixed, openai) == ["--strategy openai=moving-window"]
