"""Theory under the server's token bucket: the earliest file-order schedule and its
makespan on hand-computed cases, never later than the windows' best, and the
simulators' bucket deciding as the server's code does, decision by decision
(no server, no clock)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from limits import parse as parse_rate

import clients
from bench.endpoints.openai.bound import (
    Buckets,
    LLMLatency,
    Planned,
    TwoLimitError,
    Windows,
    bucket_bound,
    plan_requests,
    two_limit_bound,
)
from bench.endpoints.openai.models import TwoLimitBuckets, simulate_run
from bench.endpoints.registry import client_config, format_simulation
from bench.records.scenario import Scenario, parse_scenario, request_bodies
from bench.theory.bucket_schedule import bucket_schedule, earliest_sends
from bench.theory.models import TheoryInput, predict, run_model, scenario_bound
from bench.theory.simulate import TokenBucket
from mock_server.endpoints.openai.errors import retry_after_ms
from mock_server.token_bucket import Bucket, BucketLimiter, MemoryBuckets, TwoBuckets
from mock_server.vocabulary import Latency

TOL = 2e-3  # the latency grid's error on a step-shaped distribution
ONE_SECOND = LLMLatency(Latency(1, 1), 0.0)  # every request answered 1 s after it goes


def planned(*charges: int) -> list[Planned]:
    return [Planned(c, 1) for c in charges]


# -- the schedule and its bound --------------------------------------------------------


def test_one_bucket_sends_its_capacity_at_once_then_one_per_refill() -> None:
    assert bucket_schedule(6, limit=2, window=1.0) == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    # The windows' best would send the sixth at 2 s too, the third and fifth later.
    given = TheoryInput(n=3, limit=2, window=1.0, latency=Latency(1, 1), strategy="token-bucket")
    assert scenario_bound(given).mean == 1.5  # the third goes at 0.5 s, 1 s each
    assert scenario_bound(replace(given, strategy="fixed-window")).mean == 2.0


def test_the_write_ups_scenario_under_the_bucket() -> None:
    # Ten requests, 2 per second, randint(2, 5) s: the last goes at 4 s either way,
    # but the bucket's third to ninth go half a second sooner.
    bucket = scenario_bound(TheoryInput(strategy="token-bucket"))
    assert bucket.exact
    assert bucket.mean == pytest.approx(8.11, abs=0.005)
    assert bucket.mean < scenario_bound(TheoryInput()).mean


def test_two_buckets_where_tokens_bind() -> None:
    # 10 requests and 100 tokens a minute, full at the start: 60 + 40 fill the
    # tokens; the third (30) waits for 30 tokens (18 s), the fourth (50) for 50
    # more (30 s after that), the fifth (10) for 10 more (6 s).
    buckets = Buckets.per_minute(rpm=10, tpm=100)
    assert earliest_sends(
        [(1, c) for c in (60, 40, 30, 50, 10)], (buckets.requests, buckets.tokens)
    ) == pytest.approx([0.0, 0.0, 18.0, 48.0, 54.0])
    bound = bucket_bound(planned(60, 40, 30, 50, 10), buckets, ONE_SECOND)
    assert bound.mean == pytest.approx(55.0, abs=TOL)
    assert bound.exact
    assert bound.binding == "tokens"
    # Any order: 190 tokens from a bucket of 100 refilled at 100 a minute: 54 s.
    assert bound.lower == pytest.approx(55.0, abs=TOL)
    assert "both buckets" in bound.words()


def test_two_buckets_where_requests_bind() -> None:
    buckets = Buckets.per_minute(rpm=2, tpm=10_000)  # one request every 30 s
    bound = bucket_bound(planned(1, 1, 1, 1), buckets, ONE_SECOND)
    assert bound.mean == pytest.approx(61.0, abs=TOL)  # sent at 0, 0, 30 and 60 s
    assert bound.binding == "requests"


def test_a_quantized_bucket_holds_a_slices_worth_refilled_at_the_minutes_rate() -> None:
    # --quantize 1s on 600 RPM: a bucket of 10 requests, refilled at 10 a second.
    buckets = Buckets.per_minute(rpm=600, tpm=1_000_000, quantize=1.0)
    assert (buckets.requests.capacity, buckets.requests.rate) == (10, 10.0)
    # 90 TPM in 1 s slices: floor(1.5) = 1 token held, refilled at 1.5 a second.
    assert Buckets.per_minute(60, 90, quantize=1.0).tokens == Bucket(1, 1.5)
    sends = earliest_sends([(1, 1)] * 13, (buckets.requests, buckets.tokens))
    assert sends == pytest.approx([0.0] * 10 + [0.1, 0.2, 0.3])
    with pytest.raises(TwoLimitError, match="request 0 is charged 2 tokens"):
        bucket_bound(planned(2), Buckets.per_minute(60, 90, quantize=1.0))


@pytest.mark.parametrize("quantize", [None, 1.0, 7.0])
def test_the_bucket_is_never_later_than_the_windows_for_the_same_limits(
    quantize: float | None,
) -> None:
    # Proved in bench.theory.bucket_schedule: the windows' schedule is one the
    # bucket admits, so the earliest sends each request no later.
    rng = random.Random(5)
    for _ in range(20):
        rpm, tpm = rng.randint(60, 300), rng.randint(2_000, 20_000)
        windows = Windows.per_minute(rpm, tpm, quantize)
        charges = (rng.randint(1, windows.tokens) for _ in range(40))
        requests = [Planned(charge, rng.randint(1, 50)) for charge in charges]
        bucket = bucket_bound(requests, Buckets.per_minute(rpm, tpm, quantize))
        window = two_limit_bound(requests, windows)
        assert bucket.mean <= window.mean + TOL
        assert bucket.lower <= bucket.mean
    for n, limit, window_s, lo, hi in ((10, 2, 1.0, 2, 5), (37, 3, 0.7, 1, 1), (9, 4, 2.0, 0, 3)):
        given = TheoryInput(n=n, limit=limit, window=window_s, latency=Latency(lo, hi))
        bucket_mean = scenario_bound(replace(given, strategy="token-bucket")).mean
        assert bucket_mean <= scenario_bound(given).mean


def test_the_windows_bound_refuses_the_bucket() -> None:
    with pytest.raises(ValueError, match="bucket_bound"):
        two_limit_bound(planned(1), Windows(1, 10, 60), strategy="token-bucket")


# -- the simulators' bucket against the server's code ----------------------------------


def random_times(rng: random.Random, count: int, rate: float) -> list[float]:
    t, times = 0.0, []
    for _ in range(count):
        t += rng.expovariate(rate) if rng.random() < 0.8 else 0.0
        times.append(t)
    return times


def test_chats_bucket_model_decides_as_the_server_does() -> None:
    # The server's BucketLimiter (what slowapi asks under token-bucket) on a fake clock.
    now = [0.0]
    server = BucketLimiter(MemoryBuckets(), clock=lambda: now[0])
    item = parse_rate("3/2 seconds")
    model = TokenBucket(limit=3, window=2.0)
    rng = random.Random(11)
    ours, theirs = [], []
    for t in random_times(rng, 600, rate=2.5):
        now[0] = t
        theirs.append(server.hit(item, "project"))
        ours.append(model.hit(t))
        if not ours[-1]:
            assert model.refused(t).reopens_in == server.wait(item, "project")
    assert ours == theirs
    assert 0 < sum(ours) < len(ours)  # the stream exercised both answers


def test_the_two_limit_bucket_model_decides_as_the_server_does() -> None:
    now = [0.0]
    requests, tokens = Bucket(5, 5 / 60), Bucket(500, 500 / 60)
    server = TwoBuckets(MemoryBuckets(), requests, tokens, clock=lambda: now[0])
    model = TwoLimitBuckets(Buckets(requests, tokens))
    rng = random.Random(12)
    told = []
    for t in random_times(rng, 400, rate=0.15):
        now[0] = t
        charge = rng.choice((1, 50, 120, 499, 501))
        decision = server.admit(charge)
        wait = model.admit(t, charge)
        assert (wait is None) == decision.accepted, (t, charge)
        if decision.refused == "too-large":
            assert wait == math.inf
        elif not decision.accepted:
            assert decision.retry_after is not None
            assert wait == retry_after_ms(decision.retry_after) / 1000
            told.append(decision.refused)
    assert {"requests", "tokens"} <= set(told)  # both buckets refused some


def test_chat_clients_against_the_bucket() -> None:
    # The write-up's token_bucket client never meets a 429 from the server's bucket,
    # and each refused naive_gather attempt is told how long until one fits.
    given = TheoryInput(strategy="token-bucket")
    assert predict("token_bucket", given, runs=50).rejections.max == 0
    trace = run_model(clients.virtual_loops("naive_gather"), given, random.Random(3))
    assert trace.rejections > 0
    assert isinstance(trace.server, TokenBucket)


def test_the_sdk_against_the_buckets_retries_when_told() -> None:
    # 25 requests at once at 20 RPM: the bucket admits 20; the rest are told to
    # wait until one request fits (3 s, plus a millisecond) and retry together.
    s = Scenario(api="openai", rpm=20, tpm=100_000, n=25)
    planned_set = plan_requests(request_bodies(s))
    buckets = Buckets.per_minute(20, 100_000)
    run = simulate_run(
        "openai_sdk", planned_set, buckets, client_config(s, "http://x/chat"), random.Random(1)
    )
    # Five refused at once, each told 3 s: the first gets in, four refused again...
    # three attempts each: 20 + 1 + 1 answered, 3 lost, 5 + 4 + 3 refusals.
    assert (run.lost, run.rejections) == (3, 5 + 4 + 3)
    assert 6.0 < run.ended < 6.0 + 2.0  # the second retry's one at 6 s, and its latency


def test_simulate_prints_the_buckets_bound_and_every_modelled_client() -> None:
    chat = parse_scenario(
        rate="2/second", strategy="token-bucket", latency="2-5", n=10, time_scale=1.0, seed=0
    )
    told = format_simulation(chat, ["thread_pool", "token_bucket"], runs=50)
    assert "Model 2: token_bucket" in told
    assert "first instant the bucket holds it): 8.111 s" in told
    openai = format_simulation(
        replace(chat, api="openai", rpm=20, tpm=100_000), ["header_adaptive"]
    )
    assert "no model: the simulator has no model of learning the limits" in openai
    assert "each request at the first instant both buckets hold its charge" in openai
