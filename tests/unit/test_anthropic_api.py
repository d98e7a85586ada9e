"""The Messages endpoint's pieces without a server: its flags, its headers'
rounding and times, its bodies and the input tokens they are charged, and
its three buckets on a fake clock (the server's own code, decision by decision)."""

from __future__ import annotations

import pytest

from mock_server.cli import build_parser, main, settings_from_args
from mock_server.endpoints.anthropic.buckets import ThreeBuckets
from mock_server.endpoints.anthropic.errors import retry_after, rfc3339, rounded_thousand
from mock_server.endpoints.anthropic.schema import InvalidRequest, parse_count, parse_message
from mock_server.endpoints.anthropic.settings import AnthropicSettings
from mock_server.token_bucket import MemoryBuckets


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--otpm", "0"], "--otpm 0 allows no token"),
        (["--itpm", "-3"], "--itpm -3 allows no token"),
        (["--itpm", "x"], "--itpm"),
        (["--otpm-charge", "later"], "--otpm-charge"),
        (["--strategy", "anthropic=fixed-window"], "token buckets"),
        (["--overload-rate", "2"], "--overload-rate 2 must be a probability"),
        (["--stream-error-rate", "-0.5"], "--stream-error-rate -0.5 must be a probability"),
        (["--spend-limit", "-1"], "--spend-limit -1"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", *args])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]


def test_limits_come_from_the_shared_flags_with_each_apis_defaults() -> None:
    shown = settings_from_args(build_parser().parse_args(["--rpm", "7"])).as_dict()
    assert (shown["anthropic"]["rpm"], shown["openai"]["rpm"]) == (7, 7)
    assert (shown["anthropic"]["itpm"], shown["anthropic"]["otpm"]) == (30_000, 8_000)
    assert shown["openai"]["tpm"] == 10_000
    assert shown["anthropic"]["otpm_charge"] == "produced"


def test_headers_round_tokens_to_the_thousand_and_reset_in_rfc3339() -> None:
    assert [rounded_thousand(n) for n in (0, 499, 500, 1_499, 29_501)] == [0, 0, 1000, 1000, 30000]
    assert rfc3339(0.25) == "1970-01-01T00:00:00.250Z"
    # Whole scenario seconds, rounded up, times the scale.
    assert retry_after(0.0512, 0.01) == "0.06"
    assert retry_after(3.2, 1.0) == "4"


def test_bodies_are_checked_and_charged_what_count_tokens_says() -> None:
    body = b'{"model": "m", "max_tokens": 5, "system": "be brief", "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}], "tools": []}'  # noqa: E501
    message = parse_message(body, 64_000)
    # The system prompt as a message: (4 + 2 + 2) + (4 + 1 + 3) + 2 primed.
    assert message.input_tokens() == parse_count(body).input_tokens() == 18
    user = '"messages": [{"role": "user", "content": "x"}]'
    for bad, words in [
        (f'{{"model": "m", {user}}}', "max_tokens: Field required"),
        ('{"model": "m", "max_tokens": 1, "messages": []}', "messages:"),
        (f'{{"model": "m", "max_tokens": 1, {user.replace("user", "bot")}}}', "messages.0.role"),
        (f'{{"model": "m", "max_tokens": 70000, {user}}}', "70000 > 64000"),
        ("not json", "parsing the body"),
    ]:
        with pytest.raises(InvalidRequest, match=words):
            parse_message(bad.encode(), 64_000)


def buckets(charge: str, now: list[float]) -> ThreeBuckets:
    settings = AnthropicSettings(rpm=60, itpm=600, otpm=120, otpm_charge=charge)  # type: ignore[arg-type]
    return ThreeBuckets(MemoryBuckets(), settings, 60.0, "project:p", clock=lambda: now[0])


def test_max_tokens_is_needed_and_charged_at_the_start() -> None:
    now = [1000.0]
    limits = buckets("max-tokens", now)
    assert limits.admit(10, 100).accepted
    refused = limits.admit(10, 100)
    assert (refused.refused, refused.too_large) == ("output-tokens", False)
    assert refused.retry_after == pytest.approx(40.0)  # 80 more tokens at 2 a second
    assert limits.admit(10, 121).too_large
    now[0] += 40.0
    assert limits.admit(10, 100).accepted


def test_produced_output_starts_while_the_bucket_is_not_empty() -> None:
    now = [1000.0]
    limits = buckets("produced", now)
    first = limits.admit(10, 5_000)  # max_tokens is not charged, nor needed
    assert first.accepted
    assert first.output_charge == 0
    limits.charge_output(200)  # 80 below zero
    refused = limits.admit(10, 5)
    assert refused.refused == "output-tokens"
    assert refused.retry_after == pytest.approx(40.5)  # back to 1 token: 81 at 2 a second
    assert limits.state()[0]["output-tokens"].remaining == 0
    now[0] += 40.5
    assert limits.admit(10, 5).accepted
    assert limits.admit(601, 5).refused == "input-tokens"
