"""Requests and tokens per minute at once, in fake time (limits' memory storage
on a clock the test moves): what each refusal costs, and whether the wait a
429 announces is the wait that works."""

from __future__ import annotations

import random

import pytest

from mock_server.endpoints.openai.errors import format_duration, retry_after_ms
from mock_server.limits import Admission, TwoLimits
from mock_server.token_bucket import Bucket, MemoryBuckets, TwoBuckets
from mock_server.tokens import charge, prompt_tokens
from mock_server.vocabulary import STRATEGIES
from tests.helpers import fake_limits_clock

WINDOW = 60.0


def two_limits(
    monkeypatch: pytest.MonkeyPatch, strategy: str, requests: int, tokens: int
) -> tuple[Admission, list[float]]:
    """Both limits on a fake clock: windows of WINDOW, or buckets of that size
    refilled over WINDOW."""
    from limits.storage import MemoryStorage

    now = fake_limits_clock(monkeypatch)
    if strategy == "token-bucket":
        buckets = TwoBuckets(
            MemoryBuckets(),
            Bucket(requests, requests / WINDOW),
            Bucket(tokens, tokens / WINDOW),
            clock=lambda: now[0],
        )
        return buckets, now
    limits = TwoLimits(
        strategy,
        MemoryStorage(),
        requests=requests,
        tokens=tokens,
        window=WINDOW,
        clock=lambda: now[0],
    )
    return limits, now


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_refused_request_costs_neither_budget(
    monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    limits, now = two_limits(monkeypatch, strategy, requests=3, tokens=100)
    now[0] = 1000.0
    assert limits.admit(30).accepted
    # Refused by tokens (30 + 80 > 100): no request counted...
    refused = limits.admit(80)
    assert refused.refused == "tokens"
    assert refused.requests.remaining == 2
    assert refused.tokens.remaining == 70
    # ...so two more fit the request limit.
    assert limits.admit(10).accepted
    assert limits.admit(10).accepted
    # Refused by requests: no token counted.
    refused = limits.admit(5)
    assert refused.refused == "requests"
    assert refused.tokens.remaining == 50
    # Too large for the token limit: refused for good, nothing counted, no wait.
    too_large = limits.admit(101)
    assert too_large.refused == "too-large"
    assert too_large.retry_after is None
    assert too_large.tokens.remaining == 50


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_announced_wait_is_enough(monkeypatch: pytest.MonkeyPatch, strategy: str) -> None:
    """After any refusal, the same request sent when retry-after-ms says is
    admitted (nothing else arriving meanwhile)."""
    limits, now = two_limits(monkeypatch, strategy, requests=5, tokens=1000)
    rng = random.Random(7)
    now[0] = 10_000.0
    refusals = 0
    for _ in range(300):
        now[0] += rng.choice([0.0, 0.0, rng.uniform(0, 5), rng.uniform(0, 40)])
        cost = rng.randint(1, 1000)
        decision = limits.admit(cost)
        if decision.accepted:
            continue
        refusals += 1
        assert decision.retry_after is not None
        assert decision.retry_after <= 2 * WINDOW
        now[0] = decision.wall_after + retry_after_ms(decision.retry_after) / 1000
        assert limits.admit(cost).accepted, (strategy, cost, decision)
    assert refusals >= 50


def test_moving_window_waits_for_the_hits_that_make_room(monkeypatch: pytest.MonkeyPatch) -> None:
    limits, now = two_limits(monkeypatch, "moving-window", requests=10, tokens=100)
    now[0] = 1000.0
    assert limits.admit(40).accepted
    now[0] = 1010.0
    assert limits.admit(40).accepted
    now[0] = 1020.0
    # 50 more need the first hit's 40 gone (at 1060), not just the oldest unit.
    decision = limits.admit(50)
    assert decision.refused == "tokens"
    assert decision.retry_after == pytest.approx(40.0)
    assert decision.tokens.reset == pytest.approx(50.0)  # back to full when the newest leaves
    now[0] = 1059.9
    assert not limits.admit(50).accepted
    now[0] = 1060.001
    assert limits.admit(50).accepted


def test_sliding_window_counter_waits_for_the_previous_window_to_fade(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits, now = two_limits(monkeypatch, "sliding-window-counter", requests=10, tokens=100)
    now[0] = 60 * 100 + 30.0  # halfway through a window (memory's windows sit on the clock)
    assert limits.admit(60).accepted
    now[0] += 40.0  # 10 s into the next window: 60 x 50/60 = 50 still weighs
    decision = limits.admit(80)
    assert decision.refused == "tokens"
    # floor(60 x (50 - t)/60) + 80 <= 100 once 50 - t < 21: t > 29.
    assert decision.retry_after == pytest.approx(29.0)
    now[0] += 28.9
    assert not limits.admit(80).accepted
    now[0] += 0.2
    assert limits.admit(80).accepted


def test_the_log_names_the_window_each_admission_was_counted_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits, now = two_limits(monkeypatch, "fixed-window", requests=2, tokens=100)
    now[0] = 1000.0
    assert limits.admit(10).requests_window_end == 1060.0  # it opened the window
    now[0] = 1059.0
    assert limits.admit(10).tokens_window_end == 1060.0
    now[0] = 1061.0
    assert limits.admit(10).requests_window_end == 1121.0

    limits, now = two_limits(monkeypatch, "sliding-window-counter", requests=2, tokens=100)
    now[0] = 6030.0  # memory's windows sit on the clock: this one ends at 6060
    decision = limits.admit(10)
    assert decision.requests_window_end == pytest.approx(6060.0)
    assert decision.tokens_window_end == pytest.approx(6060.0)
    assert limits.admit(10).requests_window_end == pytest.approx(6060.0)

    limits, now = two_limits(monkeypatch, "moving-window", requests=2, tokens=100)
    assert limits.admit(10).requests_window_end is None


@pytest.mark.parametrize("strategy", ["fixed-window", "sliding-window-counter"])
def test_a_window_closing_during_an_admission_is_named_right(
    monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    """Every reading of the clock moves it 1 ms on, and the second admission
    starts a little earlier each time, so that its window closes at each step
    of it in turn (before, between and after the reads and hits). The window
    the decision names is always the one whose counter took the hit."""
    from types import SimpleNamespace

    import limits.storage.memory
    from limits.storage import MemoryStorage

    fake_limits_clock(monkeypatch)
    now = [0.0]

    def tick() -> float:
        now[0] += 0.001
        return now[0]

    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=tick))
    for step in range(40):
        storage = MemoryStorage()
        two = TwoLimits(strategy, storage, requests=100, tokens=1000, window=WINDOW, clock=tick)
        key = two.requests_item.key_for(two.key)
        now[0] = 5990.0
        first = two.admit(1)
        assert first.requests_window_end is not None
        end = first.requests_window_end  # fixed: 6050 and a few ms; sliding: 6000
        now[0] = end - 0.001 * step
        second = two.admit(1)
        if strategy == "fixed-window":
            opened = storage.get(key) == 1 and storage.get_expiry(key) > end + 1
            expected = storage.get_expiry(key) if opened else end
        else:
            opened = storage.get(f"{key}/{round(end / WINDOW)}") == 1
            expected = end + WINDOW if opened else end
        assert second.requests_window_end == pytest.approx(expected, abs=0.01), step


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "1ms"),
        (0.02, "20ms"),
        (0.9994, "1s"),
        (1, "1s"),
        (1.5, "1.5s"),
        (20, "20s"),
        (59.422, "59.422s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (52151.04, "14h29m11.04s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_prompt_tokens_follow_the_cookbook_with_four_characters_a_token() -> None:
    # 2 (priming) + 4 (framing) + "user" 1 + 11 characters -> 3
    assert prompt_tokens([{"role": "user", "content": "hello there"}]) == 10
    # A name replaces the role's token; text parts count, images do not.
    parts = [{"type": "text", "text": "abcd"}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert (
        prompt_tokens([{"role": "user", "name": "bob", "content": parts}]) == 2 + 4 + 1 + 1 + 1 - 1
    )
    assert charge(10, 50, n=3) == 160
