"""The bench's live view: request states from the recorder, drawn by rich."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from bench.endpoints.base import Meter
from bench.records.scenario import Scenario
from bench.running.live import GLYPH_LIMIT, RunWatch, live_or_progress, render_run, watch_for
from bench.running.plan import BenchPlan
from clients.infra import recorder as recorder_module
from clients.infra.recorder import Recorder
from clients.infra.records import Attempt


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def attempt(request: int, outcome: str, number: int = 0) -> Attempt:
    return Attempt(
        request=request,
        attempt=number,
        queued=0.0,
        sent=0.0,
        finished=0.1,
        status=200 if outcome == "ok" else 429,
        outcome=outcome,  # type: ignore[arg-type]
    )


def test_states_follow_the_recorder() -> None:
    """Sending → in flight; 429 and a sleep → sleeping, then waiting once slept;
    200 → done. The meter counts sends in the window holding now. The log lines
    are the write-up's, unchanged, though the view no longer reads them."""
    clock = FakeClock()
    watch = RunWatch(time_scale=0.5, window=1.0, clock=clock)  # a 0.5 s wall window
    lines: list[str] = []
    with recorder_module.observing(watch):
        rec = Recorder("naive_gather", 4, on_line=lines.append, clock=clock)
    for request in range(3):
        rec.sending(request, 0, 0.0)
    snap = watch.snapshot()
    assert snap.states == ("in flight", "in flight", "in flight", "waiting")
    assert snap.window_sends == 3
    clock.now += 0.1
    rec.record(0, 0, queued=0, sent=0, finished=0.1, status=200, outcome="ok")
    rec.record(1, 0, queued=0, sent=0, finished=0.1, status=429, outcome="rate_limited")
    rec.sleeping(1, 0.1, 3.0)  # 1.5 wall seconds
    assert lines == [
        "[Request 0] Sending 0.00",
        "[Request 1] Sending 0.00",
        "[Request 2] Sending 0.00",
        "[Request 1] FAIL 0.10: retry in 3 seconds",
    ]
    snap = watch.snapshot()
    assert snap.states == ("done", "sleeping", "in flight", "waiting")
    assert snap.rejections == 1
    clock.now += 1.0
    assert watch.snapshot().states[1] == "sleeping"
    assert watch.snapshot().window_sends == 0  # a new window, nothing sent in it
    clock.now += 0.6
    assert watch.snapshot().states[1] == "waiting"


def test_recorder_without_observer_calls_nothing() -> None:
    rec = Recorder("thread_pool", 1)
    assert rec._observer is None
    rec.sending(0, 0, 0.0)
    rec.sleeping(0, 0.0, 3.0)
    rec.record(0, 0, queued=0, sent=0, finished=0, status=200, outcome="ok")


def test_the_view_reads_events_not_log_text() -> None:
    """Events alone, with no log line, drive every state; log text alone drives none."""
    clock = FakeClock()
    watch = RunWatch(time_scale=1.0, window=10.0, clock=clock)
    with recorder_module.observing(watch):
        rec = Recorder("thread_pool", 3, clock=clock)  # no on_line: no log at all
    rec.line("[Request 2] Sending 0.00")  # the text, with no event behind it
    rec.line("[Request 2] FAIL 0.00: retry in 3 seconds")
    assert watch.snapshot().states == ("waiting", "waiting", "waiting")
    assert watch.snapshot().window_sends == 0
    watch.sending("thread_pool", 0, 0)
    watch.sending("thread_pool", 1, 0)
    watch.attempt("thread_pool", attempt(1, "rate_limited"))
    assert watch.snapshot().states == ("in flight", "failed", "waiting")
    watch.sleeping("thread_pool", 1, 2.0)
    watch.attempt("thread_pool", attempt(0, "ok"))
    assert watch.snapshot().states == ("done", "sleeping", "waiting")
    clock.now += 2.5
    assert watch.snapshot().states == ("done", "waiting", "waiting")
    watch.sending("thread_pool", 1, 1)
    assert watch.snapshot().states == ("done", "in flight", "waiting")
    assert (watch.snapshot().window_sends, watch.snapshot().rejections) == (3, 1)


@pytest.mark.parametrize("n", [10, 10_000])
def test_readable_at_ten_and_ten_thousand(n: int) -> None:
    """One glyph per request at 10; counts only at 10,000, in as many lines as at 10."""
    clock = FakeClock()
    watch = RunWatch(time_scale=1.0, window=1.0, clock=clock)
    watch.started("naive_gather", n, clock, clock.now)
    for request in range(n // 2):
        watch.sending("naive_gather", request, 0)
        watch.attempt("naive_gather", attempt(request, "rate_limited"))
        watch.sleeping("naive_gather", request, 3.0)
    console = Console(record=True, force_terminal=True, width=100)
    console.print(render_run(watch.snapshot(), Meter(1.0, 2, "2/second"), 1.0))
    text = console.export_text()
    assert re.search(rf"sleeping before a retry\s+{n // 2}\b", text), text
    assert re.search(rf"429s received so far\s+{n // 2}\b", text), text
    assert re.search(rf"sends in this window .* {n // 2}/2", text), text
    lines = text.count("\n")
    if n <= GLYPH_LIMIT:
        assert "zzzzz·····" in text
    else:
        assert "counts only" in text
        assert lines < 16


def test_no_terminal_keeps_the_progress_bar() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    progress = Progress(console=console)
    display, *_ = live_or_progress(console, BenchPlan(), progress, print, print)
    assert display is progress


def test_the_openai_endpoint_meters_tokens_against_the_tpm(tmp_path: Path) -> None:
    """On --api openai the meters read against the RPM over a minute and the TPM,
    each send charged what the server charges its request (`bench.endpoints.openai.bound`)."""
    from dataclasses import replace

    from bench.endpoints.openai.bound import plan_requests
    from bench.endpoints.registry import endpoint_for
    from bench.records import requests_file as rf
    from bench.records.scenario import request_bodies

    path = tmp_path / "requests.jsonl"
    prompts = rf.parse_distribution(rf.DEFAULT_PROMPT_TOKENS, "--prompt-tokens")
    answers = rf.parse_distribution(rf.DEFAULT_MAX_TOKENS, "--max-tokens")
    rf.write_requests(path, rf.make_requests(6, 1, prompts, answers))
    scenario = replace(Scenario(), api="openai", rpm=20, tpm=3000, n=6, requests=str(path))
    meter = endpoint_for(scenario).meter(scenario)
    assert (meter.window, meter.requests, meter.tokens[0].limit) == (60.0, 20, 3000)
    charges = [p.charge for p in plan_requests(request_bodies(scenario))]
    assert meter.tokens[0].charges == tuple(charges)

    clock = FakeClock()
    watch = watch_for(meter, 1.0, clock)
    watch.started("budget_window", 6, clock, clock.now)
    for request in (0, 2, 3):
        watch.sending("budget_window", request, 0)
    snap = watch.snapshot()
    sent = charges[0] + charges[2] + charges[3]
    assert snap.window_tokens == (sent,)
    console = Console(record=True, force_terminal=True, width=100)
    console.print(render_run(snap, meter, 1.0))
    text = console.export_text()
    assert re.search(r"sends in this window .* 3/20 .*limit 20 RPM", text), text
    # Each meter holds one line at 100 columns: the count and the TPM read together.
    assert re.search(rf"tokens in this window .* {sent}/3000 .*limit 3000 TPM", text), text
    clock.now += 61.0  # the next minute: nothing sent in it yet
    assert watch.snapshot().window_tokens == (0,)


def test_runs_side_by_side_each_have_their_own_watch_and_line() -> None:
    """With several runs in flight each lane's recorder reports to its own watch (the
    observer is per thread), and the view draws one line per run; one run alone is
    drawn whole, as before."""
    import threading

    from bench.running.live import LiveView
    from bench.running.plan import Job

    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    view = LiveView(console, BenchPlan(), clock=clock)
    jobs = [Job(0, 0, "token_bucket", 0), Job(1, 0, "thread_pool", 0)]

    def lane(job: Job, sends: int) -> None:
        with recorder_module.observing(view.watch(job)):
            recorder = Recorder(job.client, 10, clock=clock)
        for request in range(sends):
            recorder.sending(request, 0, 0.0)
            recorder.record(request, 0, queued=0, sent=0, finished=0.1, status=200, outcome="ok")
        done.append(job.client)

    done: list[str] = []
    threads = [threading.Thread(target=lane, args=(job, i + 1)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == ["thread_pool", "token_bucket"]
    console.print(view)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "runs in flight" in text
    assert re.search(r"token_bucket .* 1/10", text), text
    assert re.search(r"thread_pool .* 2/10", text), text
    from tests.helpers import thread_pool as finished_run

    view.on_done(jobs[1], finished_run(0))
    console.file = io.StringIO()
    console.print(view)
    assert "sends in this window" in console.file.getvalue()  # one run: the whole panel


def test_anthropic_meters_each_of_its_three_buckets(tmp_path: Path) -> None:
    """Under buckets the view shows what each holds: full at the start, drawn by each
    send's costs (1 request, its input tokens, its max_tokens), refilled at its limit a
    minute."""
    from dataclasses import replace

    from bench.endpoints.anthropic.bound import scenario_plan
    from bench.endpoints.registry import endpoint_for

    scenario = replace(Scenario(), api="anthropic", rpm=10, itpm=3000, otpm=1000, n=4)
    meter = endpoint_for(scenario).meter(scenario)
    assert meter.bucket
    assert [(t.what, t.limit) for t in meter.tokens] == [
        ("input tokens", 3000),
        ("output tokens", 1000),
    ]
    planned = scenario_plan(scenario)
    clock = FakeClock()
    watch = watch_for(meter, 1.0, clock)
    watch.started("budget_window", 4, clock, clock.now)
    for request in (0, 1):
        watch.sending("budget_window", request, 0)
    drawn = [sum(getattr(p, k) for p in planned[:2]) for k in ("input_tokens", "max_tokens")]
    assert watch.snapshot().levels == pytest.approx((8, 3000 - drawn[0], 1000 - drawn[1]))
    clock.now += 6.0  # a tenth of a minute: a tenth of each limit back
    assert watch.snapshot().levels == pytest.approx(
        (9, 3000 - drawn[0] + 300, min(1000, 1000 - drawn[1] + 100))
    )
    console = Console(record=True, force_terminal=True, width=100)
    console.print(render_run(watch.snapshot(), meter, 1.0))
    text = console.export_text()
    held = min(1000, 1000 - drawn[1] + 100)
    assert re.search(rf"output tokens bucket .* {held}/1000  \(held now, limit 1000 OTPM\)", text)
