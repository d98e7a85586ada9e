"""`--strategy NAME` sets every API's limits strategy; `--strategy API=NAME` one API's.

Each API has its own default (both slowapi's fixed window); the server's
settings and the limiters it mounts say which one each API got, parsed in this
process (tests/e2e/test_strategy_flag.py asks a running server).
"""

from __future__ import annotations

from typing import Any

import pytest

from mock_server.app import create_app
from mock_server.cli import build_parser, settings_from_args
from mock_server.endpoints import ENDPOINTS
from mock_server.vocabulary import RatebenchError


def shown(*args: str) -> dict[str, Any]:
    """The settings a server started with `args` shows in `GET /log`."""
    return settings_from_args(build_parser().parse_args(list(args))).as_dict()


def test_every_api_has_its_own_default() -> None:
    # /chat keeps slowapi's fixed window (the write-up's); OpenAI's refills continuously;
    # Gemini's minutes are windows aligned on the clock's minutes.
    assert {n: e.default_strategy for n, e in ENDPOINTS.items()} == {
        "chat": "fixed-window",
        "anthropic": "token-bucket",
        "openai": "token-bucket",
        "gemini": "fixed-window",
    }
    settings = shown()
    assert (settings["strategy"], settings["openai"]["strategy"]) == (
        "fixed-window",
        "token-bucket",
    )


@pytest.mark.parametrize(
    ("args", "chat", "openai"),
    [
        (["--strategy", "moving-window"], "moving-window", "moving-window"),
        (["--strategy", "openai=moving-window"], "fixed-window", "moving-window"),
        (["--strategy", "chat=sliding-window-counter"], "sliding-window-counter", "token-bucket"),
        (
            ["--strategy", "moving-window", "--strategy", "openai=sliding-window-counter"],
            "moving-window",
            "sliding-window-counter",
        ),
        # The last one for an API wins, whether it names the API or not.
        (
            ["--strategy", "openai=moving-window", "--strategy", "fixed-window"],
            *["fixed-window"] * 2,
        ),
    ],
)
def test_strategy_names_every_api_or_one(args: list[str], chat: str, openai: str) -> None:
    settings = shown(*args)
    assert (settings["strategy"], settings["openai"]["strategy"]) == (chat, openai)


def test_each_api_limits_with_its_own_strategy() -> None:
    settings = settings_from_args(build_parser().parse_args(["--strategy", "openai=moving-window"]))
    chat, _, _, openai = create_app(settings).state.endpoints
    assert type(chat.limiter.limiter.strategy).__name__ == "FixedWindowRateLimiter"
    assert {limits.strategy_name for limits in openai.limits.values()} == {"moving-window"}


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ("mistral=moving-window", ("'mistral'", "not an API", "chat, anthropic, gemini, openai")),
        ("openai=leaky-bucket", ("strategy 'leaky-bucket' is unknown", "token-bucket")),
        ("leaky-bucket", ("strategy 'leaky-bucket' is unknown",)),
        ("=moving-window", ("'' in '=moving-window'", "not an API")),
    ],
)
def test_an_unknown_api_or_strategy_is_one_line(
    value: str, fragments: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--strategy", value])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    for fragment in ("--strategy", *fragments):
        assert fragment in err, err


def test_anthropic_keeps_its_buckets_and_refuses_a_window_named_for_it() -> None:
    # Anthropic's limits are token buckets: a strategy for every API leaves them so.
    assert shown("--strategy", "moving-window")["anthropic"]["strategy"] == "token-bucket"
    with pytest.raises(RatebenchError, match="anthropic=moving-window: Anthropic's limits"):
        shown("--strategy", "anthropic=moving-window")
