"""A running server says which limits strategy each API has (`GET /log`'s settings);
how `--strategy` chooses them is in tests/unit/test_strategy_flag.py."""

from __future__ import annotations

from tests.helpers import StartServer


def test_the_server_says_which_strategy_each_api_has(start_server: StartServer) -> None:
    server = start_server(time_scale=0.1, extra_args=("--strategy", "openai=moving-window"))
    settings = server.get("/log")["settings"]
    assert (settings["strategy"], settings["openai"]["strategy"]) == (
        "fixed-window",
        "moving-window",
    )
