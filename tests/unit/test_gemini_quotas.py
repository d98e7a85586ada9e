"""The Gemini endpoint's quotas on fake time: aligned minutes, the day clock,
every quota hit named at once, and waits after which the request fits."""

from __future__ import annotations

import random
import re

import pytest

from mock_server.endpoints.gemini import errors
from mock_server.endpoints.gemini.quotas import MINUTE_QUOTAS, ProjectQuotas
from mock_server.endpoints.gemini.schema import InvalidRequest, input_tokens, parse_request
from mock_server.endpoints.gemini.settings import GeminiSettings
from mock_server.endpoints.gemini.storage import MemoryQuotaStore

MINUTE = 60.0


def quotas(
    now: list[float], strategy: str = "fixed-window", rpm: int = 3, itpm: int = 100, rpd: int = 5,
    day: float = 600.0, offset: float = 0.0,
) -> ProjectQuotas:  # fmt: skip
    return ProjectQuotas(
        MemoryQuotaStore(0.0),
        "project:test",
        strategy=strategy,
        rpm=rpm,
        itpm=itpm,
        rpd=rpd,
        minute=MINUTE,
        day=day,
        offset=offset,
        clock=lambda: now[0],
    )


def test_minutes_are_aligned_on_the_start_and_the_wait_is_the_next_one() -> None:
    now = [10.0]
    q = quotas(now)
    assert all(q.admit(1).accepted for _ in range(3))
    now[0] = 47.5
    refused = q.admit(1)
    assert refused.hit == ("rpm",)
    assert refused.retry_after == pytest.approx(12.5)
    assert refused.minute == 0
    now[0] = 60.0
    admitted = q.admit(1)
    assert admitted.accepted
    assert (admitted.minute, admitted.day) == (1, 0)


def test_a_refusal_names_every_quota_it_does_not_fit_and_costs_nothing() -> None:
    now = [0.0]
    q = quotas(now, rpm=2, itpm=100, rpd=2)
    assert q.admit(60).accepted
    assert q.admit(30).accepted
    refused = q.admit(20)
    assert refused.hit == ("rpm", "itpm", "rpd")
    # The day turns at 600 s: a minute's wait would not do.
    assert refused.retry_after == pytest.approx(600.0)
    # In the next minute the tokens fit again but the day does not.
    now[0] = 61.0
    assert q.admit(20).hit == ("rpd",)


def test_the_day_opens_at_the_offset_and_the_wait_reaches_it() -> None:
    # A day of 10 minutes, started at 18:00: three quarters of it gone, 150 s left.
    settings = GeminiSettings(day_minutes=10, day_start=18 * 60)
    assert settings.day_offset == pytest.approx(450.0)
    now = [0.0]
    q = quotas(now, rpm=100, rpd=2, day=settings.day, offset=settings.day_offset)
    assert q.admit(1).accepted
    assert q.admit(1).accepted
    now[0] = 100.0
    refused = q.admit(1)
    assert (refused.hit, refused.day) == (("rpd",), 0)
    assert refused.retry_after == pytest.approx(50.0)
    now[0] = 150.0
    opened = q.admit(1)
    assert (opened.accepted, opened.day) == (True, 1)
    now[0] = 150.0 + 600.0
    assert q.admit(1).day == 2


def test_a_request_larger_than_the_token_quota_is_told_no_wait() -> None:
    now = [0.0]
    verdict = quotas(now, itpm=100).admit(101)
    assert (verdict.hit, verdict.too_large, verdict.retry_after) == (("itpm",), True, None)


@pytest.mark.parametrize("strategy", sorted(MINUTE_QUOTAS))
def test_every_strategy_keeps_its_limit_and_its_waits_are_enough(strategy: str) -> None:
    """Random arrivals: what each strategy promises holds, and a refused request
    fits once its wait has passed (nothing else arriving)."""
    rng = random.Random(7)
    now = [0.0]
    q = quotas(now, strategy, rpm=5, itpm=200, rpd=10_000, day=10_000.0)
    admitted: list[tuple[float, int]] = []
    for _ in range(300):
        now[0] += rng.expovariate(1 / 4)
        cost = rng.randint(1, 80)
        verdict = q.admit(cost)
        if verdict.accepted:
            admitted.append((now[0], cost))
            continue
        assert verdict.retry_after is not None
        later = now[0] + verdict.retry_after + 1e-6
        elapsed = later - q.store.origin()
        states = [quota.read(q.store, q.key, elapsed) for quota in q.quotas]
        assert all(
            quota.fits(state, c, elapsed)
            for quota, state, c in zip(q.quotas, states, (1, cost, 1), strict=True)
        )
    assert len(admitted) > 50
    for start, _ in admitted:
        if strategy == "token-bucket":
            span = [c for t, c in admitted if start <= t <= start + MINUTE]
            assert len(span) <= 5 + 5
            assert sum(span) <= 200 + 200
        elif strategy == "moving-window":
            span = [c for t, c in admitted if start - MINUTE < t <= start]
            assert len(span) <= 5
            assert sum(span) <= 200
        else:  # both count aligned windows, which none may overfill
            window = [c for t, c in admitted if t // MINUTE == start // MINUTE]
            assert len(window) <= 5
            assert sum(window) <= 200


def test_retry_delay_is_whole_scenario_seconds_and_the_message_the_exact_wait() -> None:
    assert errors.retry_delay(47.88, 1.0) == 47.0
    assert errors.retry_delay(0.4788, 0.01) == pytest.approx(0.47)
    body = errors.quota_exceeded(("rpm", "rpd"), {"rpm": 3, "itpm": 9, "rpd": 5}, "m", 47.88, 1.0)
    error = body["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["message"].endswith("Please retry in 47.88s.")
    failure, retry = error["details"][1], error["details"][2]
    assert [v["quotaId"] for v in failure["violations"]] == [
        "GenerateRequestsPerMinutePerProjectPerModel",
        "GenerateRequestsPerDayPerProjectPerModel",
    ]
    assert retry == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}


def test_input_tokens_count_every_text_and_the_system_instruction() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "a" * 9}, {"text": "bbbb"}]},
            {"role": "model", "parts": [{"text": "cc"}]},
        ],
        "systemInstruction": {"parts": [{"text": "d" * 8}]},
    }
    assert input_tokens(body) == 3 + 1 + 1 + 2


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "Invalid JSON payload"),
        (b"[]", "Expected an object"),
        (b"{}", "contents is not specified"),
        (b'{"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}', "valid role"),
        (b'{"contents": [{"parts": []}]}', "must not be empty"),
        (
            b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": '
            b'{"maxOutputTokens": 0}}',
            "max_output_tokens",
        ),
        (
            b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": '
            b'{"candidateCount": "two"}}',
            "candidate_count",
        ),
    ],
)
def test_a_body_google_refuses_is_an_invalid_request(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        parse_request(raw, 65_536, 8)


BAD_GEMINI_FLAGS = [
    (["--rpd", "0"], "--rpd 0 allows no request"),
    (["--itpm", "-1"], "--itpm"),
    (["--day-minutes", "0.5"], "--day-minutes"),
    (["--day-minutes", "nan"], "--day-minutes"),
    (["--day-start", "25:00"], "--day-start"),
    (["--day-start", "noon"], "HH:MM"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD_GEMINI_FLAGS)
def test_bad_gemini_flags_say_what_is_wrong(args: list[str], fragment: str) -> None:
    from mock_server.cli import build_parser, settings_from_args
    from mock_server.vocabulary import RatebenchError

    with pytest.raises(RatebenchError, match=re.escape(fragment)):
        settings_from_args(build_parser().parse_args(args))
