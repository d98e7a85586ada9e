"""Interchangeable clients that send the same batch to a rate-limited endpoint.

Every client has the same entry point, `run(config, on_line=None) ->
ClientRun`, and returns the same record; `run_client` picks one by name so
that callers never branch on the kind.
"""

from __future__ import annotations

from typing import Protocol

from clients import (
    adaptive,
    aiolimiter_client,
    aiometer_client,
    async_semaphore,
    naive_gather,
    shared_window,
    sliding_window,
    thread_pool,
    threads_bucket,
    threads_unbounded,
    token_bucket_client,
)
from clients.config import ClientConfig, ConfigError
from clients.recorder import OnLine
from clients.records import ClientRun


class Client(Protocol):
    """A client's entry point: send `config.n` requests, return every attempt."""

    def __call__(self, config: ClientConfig, on_line: OnLine | None = None) -> ClientRun: ...


CLIENTS: dict[str, Client] = {
    thread_pool.NAME: thread_pool.run,
    naive_gather.NAME: naive_gather.run,
    token_bucket_client.NAME: token_bucket_client.run,
    sliding_window.NAME: sliding_window.run,
    threads_bucket.NAME: threads_bucket.run,
    async_semaphore.NAME: async_semaphore.run,
    threads_unbounded.NAME: threads_unbounded.run,
    aiolimiter_client.NAME: aiolimiter_client.run,
    aiometer_client.NAME: aiometer_client.run,
    adaptive.NAME: adaptive.run,
    shared_window.NAME: shared_window.run,
}


# Clients that need a service besides the mock server: `--clients all` leaves
# them out, and the bench checks the service before it starts them.
NEEDS_REDIS: frozenset[str] = frozenset({shared_window.NAME})
LOCAL_CLIENTS: tuple[str, ...] = tuple(name for name in CLIENTS if name not in NEEDS_REDIS)


def run_client(name: str, config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Run client `name` on `config`; blocks until the batch is done or its deadline passed.

    Raises ConfigError for an unknown name.
    """
    try:
        client = CLIENTS[name]
    except KeyError:
        raise ConfigError(f"unknown client {name!r}; known clients: {', '.join(CLIENTS)}") from None
    return client(config, on_line)


__all__ = [
    "CLIENTS",
    "LOCAL_CLIENTS",
    "NEEDS_REDIS",
    "Client",
    "ClientConfig",
    "ClientRun",
    "ConfigError",
    "run_client",
]
