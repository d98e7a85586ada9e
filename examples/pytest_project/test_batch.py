"""The batch function tested against a real rate-limited server: the
`ratebench_server` fixture comes with ratebench (its pytest plugin)."""

from __future__ import annotations

import openai
import pytest
from batch import summarize_all

DOCUMENTS = [f"document {i}" for i in range(80)]


def test_paced_batch_stays_under_the_limit(ratebench_server):
    # 60 requests per minute; a minute lasts 1.2 seconds at time scale 0.02.
    server = ratebench_server(limits={"rpm": 60}, latency="1-2", time_scale=0.02)
    summaries = summarize_all(DOCUMENTS, per_minute=50, minute=server.scaled(60))

    assert len(summaries) == len(DOCUMENTS)
    log = server.server_log().only("/v1/chat/completions")
    log.assert_no_limit_broken()
    assert log.requests == len(DOCUMENTS)
    assert log.never_answered == []
    assert log.most_in_window(60) <= 60
    # 80 sends 1.2 scenario seconds apart, the last answered within 2 s of its send.
    assert 90 <= log.makespan <= 150


def test_a_batch_too_fast_for_the_limit_is_caught(ratebench_server):
    server = ratebench_server(limits={"rpm": 60}, latency="1-2", time_scale=0.02)
    with pytest.raises(openai.RateLimitError):
        summarize_all(DOCUMENTS, per_minute=600, minute=server.scaled(60), max_retries=0)

    log = server.server_log()
    assert log.rejections > 0
    with pytest.raises(AssertionError, match="a limit was broken"):
        log.assert_no_limit_broken()
