"""A token limit costs memory and time per request, not per token, on every
strategy and storage; the moving window of our own admits exactly what
limits' moving window admits.

limits' moving window stores one timestamp per unit of cost: ten requests of
5 million tokens under `--tpm 100000000` held 50 million of them (RSS 58 ->
511 MB, then 347 ms to admit a 1-token request; on Redis a Lua loop of 5
million LPUSH blocked the server and the requests failed). Figures:
`python tests/probe_token_memory.py --redis redis://127.0.0.1:PORT/0`.
"""

from __future__ import annotations

import random

import pytest
import redis
from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mock_server.limits import MovingWindow, TwoLimits, window_item
from mock_server.redis_store import MillisecondRedisStorage
from mock_server.vocabulary import WINDOW_STRATEGIES
from tests.helpers import BIG_TPM, LARGE_CHARGE, fake_limits_clock


def redis_storage(url: str) -> MillisecondRedisStorage:
    redis.Redis.from_url(url).flushdb()
    return MillisecondRedisStorage(url)


def redis_held(url: str) -> int:
    """Bytes the database's keys hold (not the server's buffers, which vary)."""
    client = redis.Redis.from_url(url)
    try:
        return sum(int(client.memory_usage(key) or 0) for key in client.scan_iter())
    finally:
        client.close()


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_ten_large_charges_hold_no_memory_per_token_in_redis(strategy: str, redis_url: str) -> None:
    limits = TwoLimits(
        strategy, redis_storage(redis_url), requests=1000, tokens=BIG_TPM, window=60.0
    )
    for _ in range(10):
        assert limits.admit(LARGE_CHARGE).accepted
    # limits' moving window pushed 2 million list entries (tens of MB).
    assert redis_held(redis_url) < 10_000


@pytest.mark.parametrize("where", ["memory", "redis"])
def test_the_moving_window_admits_what_limits_moving_window_admits(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, where: str
) -> None:
    """Random costs at random times, on a fake clock: every decision of ours is
    the decision of limits' moving window on the same sequence, and the wait
    and remaining we announce agree with what it then admits."""
    now = fake_limits_clock(monkeypatch)
    amount, window = 50, 10.0
    item: RateLimitItem = window_item(amount, window, "equivalence")
    reference = MovingWindowRateLimiter(MemoryStorage())
    storage = MemoryStorage() if where == "memory" else redis_storage(redis_url)
    ours = MovingWindow(storage, item, "org", clock=lambda: now[0])
    rng = random.Random(5)
    now[0] = 1000.0
    admitted = refused = 0
    for _ in range(400):
        now[0] += rng.choice([0.0, rng.uniform(0, 0.5), rng.uniform(0, 4), rng.uniform(0, 12)])
        cost = rng.randint(1, amount)
        fits = ours.test(cost)
        remaining = ours.state(now[0]).remaining
        wait = ours.wait(cost, now[0])
        assert fits == reference.hit(item, "org", cost=cost), (now[0], cost)
        assert fits == (cost <= remaining) == (wait == 0.0)
        if fits:
            ours.hit(cost)
            admitted += 1
        else:
            refused += 1
            # Just before the wait we announce, still too early; just after, it
            # fits (the clock only moves on: the log forgets what has left).
            refused_at = now[0]
            now[0] = refused_at + wait - 0.001
            assert not ours.test(cost)
            now[0] = refused_at + wait + 0.001
            assert ours.test(cost)
    assert admitted > 100
    assert refused > 100
