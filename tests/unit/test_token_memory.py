"""A token limit costs memory per request, not per token, in memory on every
strategy (Redis, and the moving window against limits', in tests/e2e)."""

from __future__ import annotations

import tracemalloc

import pytest
from limits.storage import MemoryStorage

from mock_server.limits import TwoLimits
from mock_server.vocabulary import WINDOW_STRATEGIES
from tests.helpers import BIG_TPM, LARGE_CHARGE


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_ten_large_charges_hold_no_memory_per_token_in_memory(strategy: str) -> None:
    limits = TwoLimits(strategy, MemoryStorage(), requests=1000, tokens=BIG_TPM, window=60.0)
    tracemalloc.start()
    try:
        for _ in range(10):
            assert limits.admit(LARGE_CHARGE).accepted
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Per request: a few entries, counters and the decisions; per token
    # (limits' moving window) it was 8 bytes x 2 million = 16 MB.
    assert held < 64_000, held
