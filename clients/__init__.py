"""Interchangeable clients that send the same batch to a rate-limited endpoint.

Every client is one module under `clients/catalog/` with a `SPEC` (what it is,
for the bench, the theory and the report) and a `run(config, on_line=None) ->
ClientRun` (the batch itself), and theory's model of it, `virtual_loops(batch)`
(`clients.infra.virtual`), or in its spec's `no_model` why it has none.
`REGISTRY` lists those modules, in the order reports show them; a new client
is one module plus one line there.

Listing the specs is cheap: a catalog module imports what it runs with
(aiohttp, requests, redis, ...) only inside `run`, so `python -m clients
NAME` loads what NAME needs and nothing else.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, cast

from clients.config import ClientConfig, ConfigError
from clients.infra.records import ClientRun
from clients.spec import Api, ClientSpec, SpecError

if TYPE_CHECKING:
    from clients.infra.recorder import OnLine
    from clients.infra.virtual import VirtualLoops

#: Every client, by module under clients/catalog/, in the order reports use.
REGISTRY: tuple[str, ...] = (
    "thread_pool",
    "naive_gather",
    "token_bucket",
    "fifo_bucket",
    "sliding_window",
    "threads_bucket",
    "threads_fifo",
    "async_semaphore",
    "threads_unbounded",
    "aiolimiter",
    "aiometer",
    "adaptive",
    "shared_window",
    # The OpenAI-compatible endpoint's clients (spec.api == "openai").
    "budget_window",
    "openai_sdk",
    "openai_tenacity",
    "header_adaptive",
    "cookbook_parallel",
    # The leaderboard's library clients (`python -m bench leaderboard`): the
    # library's own code limits; each on the APIs it can be told about.
    "lib_pyrate_chat",
    "lib_limits_chat",
    "lib_langchain_chat",
    "lib_smartratelimit_chat",
    "lib_pyrate",
    "lib_limits",
    "lib_langchain",
    "lib_smartratelimit",
    "lib_litellm",
    # Anthropic's (spec.api == "anthropic"; budget_window and header_adaptive speak it too).
    "anthropic_sdk",
    "window_budget",
    # Gemini's clients (spec.api == "gemini").
    "gemini_budget",
    "gemini_retryinfo",
    "gemini_sdk",
    "gemini_sdk_retry",
)

#: What `--clients` means when not given: the write-up's three.
WRITEUP_CLIENTS: tuple[str, ...] = ("thread_pool", "naive_gather", "token_bucket")


class Client(Protocol):
    """A client's entry point: send `config.n` requests, return every attempt."""

    def __call__(self, config: ClientConfig, on_line: OnLine | None = None) -> ClientRun: ...


@cache
def _module(name: str) -> ModuleType:
    if name not in REGISTRY:
        raise ConfigError(f"unknown client {name!r}; known clients: {', '.join(REGISTRY)}")
    module = importlib.import_module(f"{__name__}.catalog.{name}")
    if not hasattr(module, "virtual_loops") and not module.SPEC.no_model.strip():
        raise SpecError(f"{name}: no virtual_loops for theory, so its SPEC's no_model must say why")
    return module


def spec(name: str) -> ClientSpec:
    """The spec of client `name`; ConfigError naming the known clients if there is none."""
    return cast(ClientSpec, _module(name).SPEC)


def virtual_loops(name: str) -> VirtualLoops | None:
    """The client's `virtual_loops`, theory's model of it on every endpoint
    (`clients.infra.virtual`); None if it has none (its spec's `no_model` says why)."""
    found = getattr(_module(name), "virtual_loops", None)
    return cast("VirtualLoops", found) if found is not None else None


def specs() -> tuple[ClientSpec, ...]:
    """Every registered client's spec, in registry order."""
    return tuple(spec(name) for name in REGISTRY)


def local_clients(api: Api = "chat") -> tuple[str, ...]:
    """The clients of `api` that need nothing besides the mock server (`--clients all`).

    The leaderboard's library clients (policy "library ...") are left out: `python -m
    bench leaderboard` runs them, or `--clients` by name, so that `all` still
    reproduces the committed comparisons."""
    return tuple(
        s.name for s in specs() if s.local and s.speaks(api) and not s.policy.startswith("library")
    )


def run_client(name: str, config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Run client `name` on `config`; blocks until the batch is done or its deadline passed.

    Raises ConfigError for an unknown name.
    """
    client = cast(Client, _module(name).run)
    return client(config, on_line)


__all__ = [
    "REGISTRY",
    "WRITEUP_CLIENTS",
    "Client",
    "ClientConfig",
    "ClientRun",
    "ClientSpec",
    "ConfigError",
    "local_clients",
    "run_client",
    "spec",
    "specs",
]
