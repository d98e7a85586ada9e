"""`bench --url`: the server's own settings are the truth (issue 17, item 4)."""

from __future__ import annotations

from pathlib import Path

from bench.records.scenario import parse_scenario
from bench.running.runner import settings_mismatches
from tests.helpers import StartServer, run_cli


def test_a_server_run_with_other_settings_is_one_line_naming_them(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A server at time scale 0.05 and 3/second, a bench told 0.1 and 2/second:
    refused before anything is written, with the flags that would agree."""
    server = start_server(time_scale=0.05, rate="3/second")
    result = run_cli(
        "bench", "--url", server.chat_url, "--time-scale", "0.1", "--out", str(tmp_path)
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--time-scale 0.05" in lines[0]
    assert "--rate 3/second" in lines[0]
    assert "--latency" not in lines[0]  # the same 2-5 on both sides
    assert not any(tmp_path.iterdir())  # nothing created


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

    from bench.records.scenario import Scenario, openai_server_args

    openai = Scenario(api="openai", rpm=20, tpm=10000)
    assert "--no-ratelimit-headers" not in openai_server_args(openai)
    quiet = replace(openai, headers=False)
    assert "--no-ratelimit-headers" in openai_server_args(quiet)
    assert Scenario.from_dict(quiet.to_dict()).headers is False
    older = {k: v for k, v in openai.to_dict().items() if k != "headers"}
    assert Scenario.from_dict(older).headers is True  # records from before the flag


def test_no_ratelimit_headers_without_the_openai_endpoint_is_one_line() -> None:
    result = run_cli("bench", "--no-ratelimit-headers", "-n", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --no-ratelimit-headers is for the LLM endpoint: add --api openai"
    )
