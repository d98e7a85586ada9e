"""`ratebench.testing.ServerLog`: the questions a user's test asks the server's log,
answered from hand-made entries at time scale 0.5 (durations in scenario seconds)."""

from __future__ import annotations

from typing import Any

import pytest

from ratebench.testing import ServerLog, most_within


def entry(arrival: float, status: int = 200, **fields: Any) -> dict[str, Any]:
    accepted = status == 200
    left = arrival + 0.5 if status != 0 else None
    found = {"arrival": arrival, "decided": arrival, "accepted": accepted, "left": left}
    if status:
        found["status"] = status
    return found | fields


LOG = ServerLog(
    (
        entry(100.0, tokens_charged=10),
        entry(100.2, tokens_charged=10, endpoint="/v1/chat/completions"),
        entry(100.4, 429, refused_by="tokens", endpoint="/v1/chat/completions"),
        entry(130.0, tokens_charged=30),
        entry(131.0, 0),  # never answered: the client went
    ),
    time_scale=0.5,
)


def test_counts_makespan_and_windows() -> None:
    assert (LOG.requests, LOG.admitted, LOG.rejections) == (5, 3, 1)
    assert LOG.refused_by == {"tokens": 1}
    assert LOG.statuses == {200: 3, 429: 1}
    assert [e["arrival"] for e in LOG.never_answered] == [131.0]
    assert LOG.makespan == pytest.approx((130.5 - 100.0) / 0.5)
    # 60 scenario seconds are 30 wall seconds: 100.0 and 130.0 fall in no common span.
    assert LOG.most_in_window(60) == 2
    assert LOG.most_in_window(60, admitted=False) == 3  # 100.0, 100.2 and 100.4
    assert LOG.most_in_window(61) == 3
    assert LOG.most_tokens_in_window(60) == 40  # 100.2 and 130.0
    assert LOG.only("/v1/chat/completions").requests == 2
    assert most_within([0.0, 1.0, 1.0, 2.0], 1.0) == 2


def test_no_limit_broken_names_the_refusals() -> None:
    with pytest.raises(AssertionError, match=r"1 of 5 requests refused with 429 \(1 by tokens\)"):
        LOG.assert_no_limit_broken()
    LOG.only("/chat").assert_no_limit_broken()
