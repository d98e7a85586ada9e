"""Anthropic's three buckets on the bench's side, in fake time: the bound, the client
that keeps the buckets, the client that learns them, what a transport reads, the SDK's
model."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from bench.endpoints.anthropic.bound import Planned, produced_sends, three_bucket_bound
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.theory.bucket_schedule import earliest_sends
from bench.theory.latest_finish import LLMLatency
from clients.infra.attempts import Reply
from clients.infra.steps import Park, Sleep, Steps
from clients.limiters.bucket_budget import BucketBudget
from clients.limiters.learned_buckets import LearnedBuckets
from clients.transports.learned import Learned, LLMReply
from mock_server.vocabulary import Latency

INSTANT = LLMLatency(Latency(1, 1), 0.0)  # every answer 1 s after its admission


def drive(gens: list[Steps[float]], now: list[float]) -> list[float]:
    """Run acquisitions one after the other on a fake clock; when each got through."""
    got = []
    for gen in gens:
        value: Any = None
        while True:
            try:
                step = gen.send(value)
            except StopIteration:
                break
            assert isinstance(step, Sleep), step
            now[0] += step.seconds
        got.append(now[0])
    return got


# -- the bound -------------------------------------------------------------------------


def test_output_charged_at_max_tokens_is_the_earliest_schedule_of_three_buckets() -> None:
    """2 requests, 100 input and 60 output tokens a minute: each request at the first
    instant all three hold its costs; the bound is exact, and output binds."""
    limits = AnthropicLimits(2, 100, 60, "max-tokens")
    requests = [Planned(10, 30), Planned(10, 30), Planned(80, 30), Planned(10, 60)]
    # 0, 1: at 0, the output bucket empty after them (full again at 60). 2: 30 output
    # tokens back at 30 (one request back too). 3: needs the whole 60, full at 90.
    sends = earliest_sends([(1, r.input_tokens, r.max_tokens) for r in requests], limits.buckets())
    assert sends == pytest.approx([0.0, 0.0, 30.0, 90.0])
    bound = three_bucket_bound(requests, limits, INSTANT)
    assert bound.exact
    assert bound.binding == "output tokens"
    assert bound.last_send == pytest.approx(90.0)
    assert bound.mean == pytest.approx(91.0)
    # Any order waits for 150 - 60 output tokens at 1 a second: 90 s, plus the latency.
    assert bound.lower == pytest.approx(91.0)


def test_output_counted_as_produced_gates_on_one_token_and_charges_at_the_end() -> None:
    """Output bucket of 60 a minute (1 a second): a request starts while it holds one
    token, and its output is charged when its answer ends, overdrawing the bucket."""
    buckets = AnthropicLimits(2, 10_000, 60, "produced").buckets()
    requests = [Planned(1, 100)] * 3
    # Nothing is charged at admission: all three would go at once but for the two
    # requests a minute; the third's request is back at 30 s.
    sends = produced_sends(requests, buckets, [50.0, 50.0, 50.0], [90, 90, 90])
    assert sends == pytest.approx([0.0, 0.0, 30.0])
    # Answers that ended by then overdraw the bucket the third waits on: 120 tokens at
    # 1 s leave 60 - 120 = -60, one token back at 1 + 61 = 62 s.
    sends = produced_sends(requests, buckets, [1.0, 1.0, 1.0], [90, 30, 30])
    assert sends == pytest.approx([0.0, 0.0, 62.0])


def test_the_produced_bound_is_the_servers_rule_over_draws() -> None:
    limits = AnthropicLimits(50, 30_000, 2_500, "produced")
    requests = [Planned(200, 200)] * 60
    bound = three_bucket_bound(requests, limits, draws=50)
    assert not bound.exact
    assert bound.draws == 50
    assert bound.binding == "output tokens"
    # Expected output 100.5 a request: 6,030 - 2,500 to refill at 2,500 a minute.
    assert 60 < bound.mean < 120
    assert "mean of 50 draws" in bound.words()


# -- the client that is told the limits ------------------------------------------------


def test_budget_spends_the_starting_fill_then_the_refill() -> None:
    now = [0.0]
    budget = BucketBudget((2, 100, 60), window=60.0, margin=0.0, clock=lambda: now[0])
    costs = [(1, 10, 30), (1, 10, 30), (1, 80, 30), (1, 10, 60)]
    times = drive([budget.for_request(c).acquire() for c in costs], now)
    # The same instants as the bound's schedule.
    assert times == pytest.approx([0.0, 0.0, 30.0, 90.0])


def test_budget_keeps_the_margin_and_takes_back_a_refusal() -> None:
    now = [0.0]
    budget = BucketBudget((2, 1000, None), window=60.0, margin=1.0, clock=lambda: now[0])
    first, second, third = (budget.for_request((1, 10, 0)) for _ in range(3))
    assert drive([first.acquire()], now) == [0.0]
    # The second would leave the requests bucket empty: it waits for the margin's refill.
    assert drive([second.acquire()], now) == pytest.approx([1.0])
    # Refused (the server charged it nothing) and told to wait 2 s: the copy was ahead
    # of the server, and is moved back to agree with it.
    second.observe(Reply(429, "rate_limited", reopens_in=2.0))
    assert drive([third.acquire()], now) == pytest.approx([3.0 + 1.0])


def test_budget_charges_produced_output_when_the_answer_comes() -> None:
    """Under `produced`: one output token needed, nothing charged at the start, the
    answer's output charged when it comes in (`clients.infra.llm_api`)."""
    from clients.config import ClientConfig
    from clients.infra.llm_api import api_named

    api = api_named("anthropic")
    config = ClientConfig(api="anthropic", otpm_charge="produced")
    costs = (1, 10, 500)
    assert api.needs(costs, config) == (1, 10, 1)
    assert api.charged(costs, config) == (1, 10, 0)
    answer = Reply(200, "ok", {"usage": {"output_tokens": 90}})
    assert api.after(costs, answer, config) == (0, 0, 90)
    assert api.after(costs, answer, ClientConfig(api="anthropic", otpm_charge="max-tokens")) == (
        0,
        0,
        0,
    )
    now = [0.0]
    budget = BucketBudget((10, 1000, 60), window=60.0, margin=0.0, clock=lambda: now[0])
    one = budget.for_request(api.needs(costs, config), api.charged(costs, config))
    assert drive([one.acquire()], now) == [0.0]
    budget.answered(answer, (1, 10, 1), api.charged(costs, config), (0, 0, 90), 0.0)
    # 60 - 90 = -30: one token again after 31 s.
    two = budget.for_request(api.needs(costs, config), api.charged(costs, config))
    assert drive([two.acquire()], now) == pytest.approx([31.0])


# -- the client that learns them ------------------------------------------------------


def drive_all(gens: list[Steps[float]], now: list[float]) -> list[float | None]:
    """Start every acquisition; those that park stay unfinished (None)."""
    got: list[float | None] = []
    for gen in gens:
        value: Any = None
        while True:
            try:
                step = gen.send(value)
            except StopIteration:
                got.append(now[0])
                break
            if isinstance(step, Park):
                got.append(None)
                break
            assert isinstance(step, Sleep)
            now[0] += step.seconds
    return got


def test_the_learner_sends_one_request_first_and_then_what_its_headers_allow() -> None:
    now = [0.0]
    names = ("requests", "input_tokens", "output_tokens")
    learner = LearnedBuckets(names, window=60.0, margin=0.0, fallback=1.0, clock=lambda: now[0])
    views = [learner.for_request((1, 10, 10)) for _ in range(3)]
    assert drive_all([v.acquire() for v in views[:2]], now) == [0.0, None]
    headers = Learned(limits={"requests": 2, "input_tokens": 100, "output_tokens": 100})
    views[0].observe(LLMReply(200, "ok", learned=headers))
    assert learner.known == {"requests": 2, "input_tokens": 100, "output_tokens": 100}
    assert learner.open
    # The probe took one request of 2: one more now, the third after 30 s of refill.
    assert drive([views[2].acquire()], now) == [0.0]
    assert drive([learner.for_request((1, 10, 10)).acquire()], now) == pytest.approx([30.0])


def test_with_the_headers_off_the_learner_charges_a_late_limit_with_every_send() -> None:
    now = [0.0]
    names = ("requests", "input_tokens", "output_tokens")
    learner = LearnedBuckets(names, window=60.0, margin=0.0, fallback=1.0, clock=lambda: now[0])
    probe = learner.for_request((1, 40, 10))
    assert drive([probe.acquire()], now) == [0.0]
    probe.observe(LLMReply(200, "ok"))  # no headers: nothing learned, the batch goes
    burst = [learner.for_request((1, 40, 10)) for _ in range(3)]
    assert drive([v.acquire() for v in burst], now) == [0.0, 0.0, 0.0]
    # The third is refused: its body names the input limit, 100 a minute.
    body = Learned(limits={"input_tokens": 100}, refused_by="input_tokens")
    burst[2].observe(LLMReply(429, "rate_limited", reopens_in=20.0, learned=body))
    assert learner.known == {"input_tokens": 100}
    assert learner.paused_until == 0.0  # it learned: the copy says when, not a pause
    # Charged with the probe and the two admitted, 40 each (the refused one charged
    # nothing): full again at 120 / (100/60) = 72 s; 40 fit again 36 s before that.
    assert drive([burst[2].acquire()], now) == pytest.approx([36.0])


# -- what the transport reads ----------------------------------------------------------


def test_the_transport_reads_anthropics_headers_and_bodies() -> None:
    from clients.transports.anthropic_send import learn, parse_rfc3339

    at = parse_rfc3339("2026-12-07T01:30:05.250Z")
    assert at is not None
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2026-12-07T01:30:05.250Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "29000",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "retry-after": "0.3",
    }
    learned = learn(headers, None, now=lambda: at - 1.2)
    assert learned.limits == {"requests": 50, "input_tokens": 30_000, "output_tokens": 8_000}
    assert learned.remaining == {"requests": 49, "input_tokens": 29_000}
    assert learned.full_in == pytest.approx({"requests": 1.2})
    assert learned.wait == pytest.approx(0.3)
    body = {
        "type": "rate_limit_error",
        "message": "This request would exceed the rate limit for your organization "
        "(ratebench) of 30,000 input tokens per minute. For details, ...",
    }
    said = learn({}, body)
    assert (said.limits, said.refused_by, said.final) == (
        {"input_tokens": 30_000},
        "input_tokens",
        False,
    )
    spend = {"type": "rate_limit_error", "message": "spend", "details": {
        "error_code": "enforced_spend_limit_reached"}}  # fmt: skip
    assert learn({}, spend).final
    assert learn({"x-should-retry": "false"}, None).final
    assert parse_rfc3339("not a time") is None


# -- the SDK's model ------------------------------------------------------------------


def test_the_sdk_model_waits_what_retry_after_says_and_stops_on_a_final_refusal() -> None:
    from clients.catalog.anthropic_sdk import virtual_loops
    from clients.config import ClientConfig
    from clients.infra.steps import Send
    from clients.infra.virtual import VirtualBatch

    batch = VirtualBatch(
        config=ClientConfig(api="anthropic"),
        charges=[1, 1],
        recorder=None,  # type: ignore[arg-type]  # the SDK's model records nothing
        rng=random.Random(0),
        server_clock=lambda: 0.0,
        limit=1,
        window=1.0,
        margin=0.0,
    )
    first, second = virtual_loops(batch)
    assert isinstance(next(first), Send)
    assert first.send(Reply(429, "rate_limited", reopens_in=2.5)) == Sleep(2.5)
    assert isinstance(next(first), Send)
    backoff = first.send(Reply(429, "rate_limited"))  # no retry-after: 1 s, less a quarter
    assert isinstance(backoff, Sleep)
    assert 0.75 <= backoff.seconds <= 1.0
    assert isinstance(next(second), Send)
    with pytest.raises(StopIteration) as stopped:
        second.send(Reply(429, "rate_limited", final=True))
    assert stopped.value.value is False


def test_budget_window_models_to_the_bound_with_no_429() -> None:
    """Theory's run of budget_window against the three buckets: the bound, a margin
    later, never refused."""
    from bench.endpoints.anthropic.models import predict_three_bucket
    from clients.config import ClientConfig

    limits = AnthropicLimits(6, 100_000, 100_000, "max-tokens")
    requests = [Planned(100, 20)] * 12
    config = ClientConfig(
        api="anthropic", rpm=6, itpm=100_000, otpm=100_000, otpm_charge="max-tokens",
        time_scale=0.1,
    )  # fmt: skip
    p = predict_three_bucket("budget_window", requests, limits, config, runs=5)
    bound = three_bucket_bound(requests, limits)
    assert p.rejections == 0
    assert p.lost == 0
    assert bound.mean <= p.mean < bound.mean + 2.0
    assert math.isclose(bound.last_send, 60.0)


def test_bench_requests_writes_messages_bodies_for_anthropic(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bench.commands.requests import main
    from bench.endpoints.anthropic.bound import input_tokens
    from bench.records.requests_file import read_requests

    path = tmp_path / "set.jsonl"
    assert main(["--api", "anthropic", "--n", "3", "--seed", "1", "--out", str(path)]) == 0
    assert "input tokens" in capsys.readouterr().out
    bodies = [json.loads(line) for line in path.read_text().splitlines()]
    assert [sorted(b) for b in bodies] == [["max_tokens", "messages", "metadata", "model"]] * 3
    # The set's input tokens are what the server's count_tokens answers for the body.
    for body in read_requests(path, "anthropic"):
        metadata = body.pop("metadata")
        assert metadata["input_tokens"] == input_tokens(body)


def test_a_command_finds_the_server_and_its_key_as_the_anthropic_sdk_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench.running.shell_command import command_env

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    env = command_env("http://127.0.0.1:8123", 5, 0.1, requests="/tmp/set.jsonl")
    # The SDK adds /v1/messages to its base URL itself; it insists on some key.
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert env["ANTHROPIC_API_KEY"] == "placeholder"
    assert env["RATEBENCH_REQUESTS"] == "/tmp/set.jsonl"
    keyed = command_env("http://127.0.0.1:8123", 5, 0.1, api_key="sk-ant-test")
    assert keyed["ANTHROPIC_API_KEY"] == keyed["OPENAI_API_KEY"] == "sk-ant-test"


def test_a_windows_rule_never_spends_the_starting_fill_on_top_of_the_refill() -> None:
    """At most L of each limit in any minute: the third request of a 2-a-minute limit
    waits for the first to leave the log (60 s), where the bucket gave it at 30 s."""
    from clients.limiters.window_budget import WindowBudget

    now = [0.0]
    log = WindowBudget((2, 100, None), window=60.0, margin=0.0, clock=lambda: now[0])
    costs = [(1, 10, 0), (1, 10, 0), (1, 10, 0), (1, 90, 0)]
    views = [log.for_request(c) for c in costs]
    assert drive([v.acquire() for v in views[:3]], now) == pytest.approx([0.0, 0.0, 60.0])
    # 90 input tokens need both sends of t = 0 gone (10 + 10 + 90 > 100): at 60 too.
    assert drive([views[3].acquire()], now) == pytest.approx([60.0])
    views[3].observe(Reply(429, "rate_limited"))  # refused: out of the log
    fifth, sixth = (log.for_request((1, 10, 0)) for _ in range(2))
    assert drive([fifth.acquire()], now) == pytest.approx([60.0])
    # Two in the last minute: the next when the one of t = 60 leaves.
    assert drive([sixth.acquire()], now) == pytest.approx([120.0])
