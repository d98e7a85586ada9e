"""`bench --url`: the server's own settings are the truth (issue 17, item 4)."""

from __future__ import annotations

from pathlib import Path

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


def test_no_ratelimit_headers_without_an_llm_endpoint_is_one_line() -> None:
    result = run_cli("bench", "--no-ratelimit-headers", "-n", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --no-ratelimit-headers is for the openai or anthropic endpoint: add --api openai"
    )
