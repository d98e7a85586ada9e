"""`GET /metrics` scraped while requests are in flight and after: its
counters are the server's own log counted, with one worker or with two
sharing their log in Redis, for `/chat` and the OpenAI endpoint alike."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import StartServer, fire, post_all

COMPLETIONS = "/v1/chat/completions"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `GET /metrics`, by name and labels."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_the_log(start_server: StartServer, redis_url: str, workers: int) -> None:
    extra = ("--workers", "2", "--log", redis_url) if workers == 2 else ()
    server = start_server(
        rate="3/second",
        latency=(1, 2),
        time_scale=0.2,
        # 30 completions of about 107 tokens each: more than 1,000 however the two
        # workers (each with a budget of its own here) share them out.
        extra_args=(*extra, "--rpm", "600", "--tpm", "1000"),
    )
    body = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    mid_run: dict[Any, float] = {}

    def scrape_mid_run() -> None:
        # Until it catches requests in flight (each admitted one sleeps 0.2-0.4 s).
        deadline = time.monotonic() + 10
        while total(mid_run, "ratebench_in_flight") == 0 and time.monotonic() < deadline:
            mid_run.update(scrape(server.url))

    scraper = threading.Thread(target=scrape_mid_run)
    scraper.start()
    fire(server.chat_url, [0.0] * 8)
    post_all(server.url + COMPLETIONS, [body] * 30)
    scraper.join()

    log = server.log()
    samples = scrape(server.url)
    assert total(mid_run, "ratebench_in_flight") > 0
    assert total(samples, "ratebench_in_flight") == 0
    assert ("ratebench_in_flight", (("endpoint", "/chat"),)) in samples  # 0, not absent

    by_status = Counter((e.get("endpoint", "/chat"), str(e["status"])) for e in log)
    for (endpoint, status), count in by_status.items():
        assert (
            total(samples, "ratebench_responses_total", endpoint=endpoint, status=status) == count
        )
    chat = [e for e in log if "endpoint" not in e]
    admitted = sum(e["accepted"] for e in chat)
    assert 0 < admitted < 8
    assert total(samples, "ratebench_admitted_total", endpoint="/chat") == admitted
    assert total(samples, "ratebench_refused_total", endpoint="/chat", limit="requests") == (
        8 - admitted
    )
    assert total(samples, "ratebench_latency_drawn_seconds_count", endpoint="/chat") == admitted
    assert total(samples, "ratebench_latency_drawn_seconds_sum", endpoint="/chat") == (
        pytest.approx(sum(e["drawn"] for e in chat if e["accepted"]))
    )
    assert total(samples, "ratebench_latency_served_seconds_count", endpoint="/chat") == admitted
    completions = [e for e in log if e.get("endpoint") == COMPLETIONS]
    refused = Counter(e["refused_by"] for e in completions if not e["accepted"])
    assert refused["tokens"] > 0
    for limit, count in refused.items():
        assert total(samples, "ratebench_refused_total", endpoint=COMPLETIONS, limit=limit) == count
    assert total(samples, "ratebench_tokens_charged_total", endpoint=COMPLETIONS) == sum(
        e.get("tokens_charged", 0) for e in completions
    )


def test_metrics_name_projects_and_limits_never_keys(start_server: StartServer) -> None:
    server = start_server(
        time_scale=0.1,
        latency=(1, 1),
        extra_args=("--rpm", "600", "--tpm", "1000", "--api-key", "sk-secret-one=alpha"),
    )
    body = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    request = urllib.request.Request(
        server.url + COMPLETIONS,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer sk-secret-one", "Content-Type": "application/json"},
    )
    statuses = []
    for _ in range(12):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    log = [e for e in server.log() if e.get("endpoint") == COMPLETIONS]
    samples = scrape(server.url)
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert b"sk-secret-one" not in response.read()
    admitted = [e for e in log if e["accepted"]]
    assert statuses.count(429) == len(log) - len(admitted) > 0
    assert total(samples, "ratebench_admitted_total", project="alpha") == len(admitted)
    assert total(samples, "ratebench_refused_total", project="alpha", limit="tokens") == (
        statuses.count(429)
    )
    assert total(samples, "ratebench_tokens_charged_total", project="alpha") == sum(
        e["tokens_charged"] for e in log
    )
