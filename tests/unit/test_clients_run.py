"""`run_client` by name: the write-up's three clients first, an unknown name refused."""

from __future__ import annotations

import pytest

from clients import REGISTRY, ClientConfig, ConfigError, run_client
from tests.helpers import WRITE_UP_CLIENTS


def test_registry_names_the_three_write_up_clients() -> None:
    # The write-up's three come first; the matrix and library clients follow.
    assert list(REGISTRY)[:3] == WRITE_UP_CLIENTS
    assert {"threads_bucket", "async_semaphore", "threads_unbounded"} <= set(REGISTRY)
    assert {"aiolimiter", "aiometer", "adaptive"} <= set(REGISTRY)


def test_unknown_client_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="thread_pool, naive_gather, token_bucket"):
        run_client("carrier_pigeon", ClientConfig())
