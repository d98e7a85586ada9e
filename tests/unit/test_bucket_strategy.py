"""The server's token bucket (`--strategy token-bucket`) on a fake clock: its
capacity, its refill, whole-request admission across several buckets, and
headers and waits read exactly from its state. (The clients' own bucket is
tests/unit/test_token_bucket.py.)"""

from __future__ import annotations

import random

import pytest
from limits import parse as parse_rate

from bench.records.scenario import parse_limit
from mock_server.cli import build_parser, settings_from_args
from mock_server.endpoints.openai.errors import ratelimit_headers, refusal_headers, retry_after_ms
from mock_server.endpoints.openai.settings import OpenAISettings
from mock_server.settings import ServerSettings
from mock_server.token_bucket import Bucket, BucketLimiter, Draw, MemoryBuckets, TwoBuckets


def server_settings(*args: str) -> ServerSettings:
    return settings_from_args(build_parser().parse_args(list(args)))


def two_buckets(requests: int, tokens: int, per: float = 60.0) -> tuple[TwoBuckets, list[float]]:
    """Buckets of `requests` and `tokens`, each refilled over `per` seconds, on a fake clock."""
    now = [1000.0]
    buckets = TwoBuckets(
        MemoryBuckets(),
        Bucket(requests, requests / per),
        Bucket(tokens, tokens / per),
        clock=lambda: now[0],
    )
    return buckets, now


def test_a_full_bucket_admits_its_capacity_at_once_then_one_per_refill() -> None:
    buckets, now = two_buckets(requests=10, tokens=1000, per=10.0)  # 1 request a second
    admitted = [buckets.admit(1).accepted for _ in range(12)]
    assert admitted == [True] * 10 + [False] * 2
    now[0] += 0.999
    assert not buckets.admit(1).accepted
    now[0] += 0.001
    assert buckets.admit(1).accepted
    # Three seconds on, three more: refill is continuous, not by window.
    now[0] += 3.0
    assert [buckets.admit(1).accepted for _ in range(4)] == [True] * 3 + [False]


def test_it_refills_up_to_full_and_no_further() -> None:
    buckets, now = two_buckets(requests=5, tokens=1000, per=5.0)
    for _ in range(5):
        assert buckets.admit(1).accepted
    now[0] += 1000.0  # far longer than it takes to fill
    requests, tokens = buckets.state()
    assert (requests.remaining, requests.reset) == (5, 0.0)
    assert (tokens.remaining, tokens.reset) == (1000, 0.0)
    assert [buckets.admit(1).accepted for _ in range(6)] == [True] * 5 + [False]


def test_remaining_and_reset_are_the_buckets_own() -> None:
    buckets, now = two_buckets(requests=60, tokens=10_000)  # per minute: 1 request a second
    decision = buckets.admit(2_500)
    assert decision.accepted
    assert decision.requests.remaining == 59
    assert decision.requests.reset == pytest.approx(1.0)  # one request's refill
    assert decision.tokens.remaining == 7_500
    assert decision.tokens.reset == pytest.approx(15.0)  # 2,500 tokens at 10,000 a minute
    now[0] += 6.0
    requests, tokens = buckets.state()
    assert (requests.remaining, tokens.remaining) == (60, 8_500)
    assert tokens.reset == pytest.approx(9.0)
    headers = ratelimit_headers(OpenAISettings(strategy="token-bucket"), requests, tokens)
    assert headers["x-ratelimit-reset-requests"] == "0s"
    assert headers["x-ratelimit-reset-tokens"] == "9s"
    assert headers["x-ratelimit-remaining-tokens"] == "8500"
    # Emptied, the request bucket is full again in a minute: OpenAI's `1m0s`.
    while buckets.admit(1).accepted:
        pass
    requests, tokens = buckets.state()
    assert ratelimit_headers(OpenAISettings(), requests, tokens)["x-ratelimit-reset-requests"] == (
        "1m0s"
    )


def test_a_request_goes_only_if_every_bucket_holds_its_charge() -> None:
    buckets, _ = two_buckets(requests=3, tokens=100)
    assert buckets.admit(90).accepted
    # Tokens short: refused, and the request bucket is not charged either.
    refused = buckets.admit(20)
    assert refused.refused == "tokens"
    assert refused.requests.remaining == 2
    assert refused.tokens.remaining == 10
    assert buckets.admit(5).accepted
    assert buckets.admit(5).accepted
    # Requests short: refused, and no token charged.
    refused = buckets.admit(1)
    assert refused.refused == "requests"
    assert refused.tokens.remaining == 0
    # Above the token bucket's capacity: refused for good, nothing charged.
    too_large = buckets.admit(101)
    assert too_large.refused == "too-large"
    assert too_large.retry_after is None
    assert refusal_headers(too_large) == {"x-should-retry": "false"}


def test_the_store_charges_all_draws_or_none() -> None:
    store = MemoryBuckets()
    small, big = Bucket(2, 1.0), Bucket(100, 10.0)
    draws = [Draw("a", small, 1), Draw("b", big, 60), Draw("c", small, 2)]
    assert store.take(0.0, draws) == (None, [1.0, 6.0, 2.0])
    # "c" holds nothing: the first draw that does not fit is named, none is charged.
    index, full = store.take(0.0, draws)
    assert index == 1  # "b" holds 40 of its 60 already
    assert full == [1.0, 6.0, 2.0]
    assert store.full_at(["a", "b", "c", "never"]) == [1.0, 6.0, 2.0, 0.0]
    store.clear(["a"])
    assert store.full_at(["a", "b"]) == [0.0, 6.0]
    store.clear()
    assert store.full_at(["b", "c"]) == [0.0, 0.0]


def test_retry_after_is_exactly_when_the_charge_fits_in_every_bucket() -> None:
    buckets, now = two_buckets(requests=2, tokens=100, per=10.0)  # 0.2 requests, 10 tokens a s
    assert buckets.admit(80).accepted
    assert buckets.admit(10).accepted
    # 50 more tokens need 40 refilled (4 s); the request bucket holds 0, and
    # needs 5 s for one: the later of the two.
    refused = buckets.admit(50)
    assert refused.refused == "requests"
    assert refused.retry_after == pytest.approx(5.0)
    headers = refusal_headers(refused)
    assert headers == {"retry-after": "6", "retry-after-ms": "5001"}
    now[0] += 4.999
    assert not buckets.admit(50).accepted
    now[0] = refused.wall + int(headers["retry-after-ms"]) / 1000
    assert buckets.admit(50).accepted


def test_the_announced_wait_always_works_and_is_never_early() -> None:
    """Random charges at random instants: after every refusal, the charge does
    not fit a millisecond before the announced wait, and fits at it."""
    buckets, now = two_buckets(requests=5, tokens=1000)
    rng = random.Random(11)
    refusals = 0
    for _ in range(400):
        now[0] += rng.choice([0.0, 0.0, rng.uniform(0, 3), rng.uniform(0, 30)])
        cost = rng.randint(1, 1000)
        decision = buckets.admit(cost)
        if decision.accepted:
            continue
        refusals += 1
        assert decision.retry_after is not None
        assert decision.retry_after > 0.001
        wall = decision.wall
        full = buckets.store.full_at(buckets.keys)
        early = wall + decision.retry_after - 0.001
        fits = [
            b.fits(f, early, c)
            for b, f, c in zip((buckets.requests, buckets.tokens), full, (1, cost), strict=True)
        ]
        assert not all(fits), "it fitted a millisecond before the announced wait"
        now[0] = wall + retry_after_ms(decision.retry_after) / 1000
        assert buckets.admit(cost).accepted
    assert refusals >= 80


def test_admissions_never_exceed_capacity_plus_refill_even_on_stale_clocks() -> None:
    """Workers read their clocks before reaching the storage, so `now` may go
    back a little between charges: the bound holds on the instants charged."""
    store = MemoryBuckets()
    bucket = Bucket(10, 100.0)
    rng = random.Random(5)
    t = 0.0
    admitted: list[float] = []
    for _ in range(3000):
        t += rng.expovariate(400.0)
        now = t - rng.uniform(0, 0.01)  # read up to 10 ms before it was used
        if store.take(now, [Draw("k", bucket, 1)])[0] is None:
            admitted.append(now)
    admitted.sort()
    assert len(admitted) > 500
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= bucket.capacity + bucket.rate * span + 1e-6
            if span > 0.2:
                break


def test_chat_limits_its_item_as_a_bucket_of_the_same_size() -> None:
    now = [500.0]
    limiter = BucketLimiter(MemoryBuckets(), clock=lambda: now[0])
    item = parse_rate("4/second")
    assert [limiter.hit(item, "project") for _ in range(5)] == [True] * 4 + [False]
    assert limiter.hit(item, "another")  # a bucket per key
    reset, remaining = limiter.get_window_stats(item, "project")
    assert (reset, remaining) == (pytest.approx(501.0), 0)
    assert limiter.wait(item, "project") == pytest.approx(0.25, abs=1e-5)
    now[0] += 0.25
    assert limiter.test(item, "project")
    assert limiter.hit(item, "project")
    limiter.clear(item, "project")
    assert limiter.get_window_stats(item, "project") == (now[0], 4)


def test_the_strategy_flag_and_the_quantize_knob_make_the_buckets() -> None:
    settings = server_settings("--strategy", "token-bucket", "--rpm", "600", "--quantize", "1s")
    openai = settings.endpoint("openai", OpenAISettings)
    assert settings.as_dict()["strategy"] == "token-bucket"
    shown = settings.as_dict()["openai"]
    assert shown["strategy"] == "token-bucket"
    assert (shown["requests_capacity"], shown["tokens_capacity"]) == (10, 166)
    assert shown["quantize"] == 1.0
    assert "buckets of 10 requests and 166 tokens" in openai.describe()
    default = server_settings().as_dict()
    assert default["strategy"] == "fixed-window"  # /chat keeps slowapi's window
    assert default["openai"]["strategy"] == "token-bucket"  # OpenAI's own default
    assert default["openai"]["requests_capacity"] == 60  # a whole minute's worth
    windows = server_settings("--strategy", "openai=fixed-window").as_dict()
    assert windows["openai"]["requests_capacity"] is None


def test_the_bench_takes_the_token_bucket_as_a_scenario_strategy() -> None:
    assert parse_limit("2/second", "token-bucket").strategy == "token-bucket"
