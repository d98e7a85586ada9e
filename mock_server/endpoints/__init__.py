"""The APIs the mock server answers, one package each, and their registry.

An API is a `ServerEndpoint`: everything that differs between APIs. Its
name (the key of its settings, and of `--strategy API=NAME`), the shared LLM
limits it reads (`llm_limits`: `--rpm`, `--tpm`, ...) with its own defaults,
its flags and the settings they make, its default limits strategy, and how it mounts its
routes on a worker's app, on the state every API shares (`mock_server.core`:
the log, keys, storage, draws). The server, its CLI and its log ask
`ENDPOINTS` and never name an API.

To add one: a package here with its settings (a frozen dataclass with
`strategy`, `describe()` and `as_dict()`), its flags, and its routes
(mounted on `Core`, returning a `core.MountedEndpoint`), then one line in
`ENDPOINTS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from mock_server.endpoints.anthropic import AnthropicEndpoint
from mock_server.endpoints.chat import ChatEndpoint
from mock_server.endpoints.gemini import GeminiEndpoint
from mock_server.endpoints.openai import OpenAIEndpoint
from mock_server.settings import EndpointSettings, ServerSettings
from mock_server.vocabulary import Strategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mock_server.core import Core, MountedEndpoint


class ServerEndpoint(Protocol):
    """One API of the server."""

    @property
    def name(self) -> str: ...

    @property
    def default_strategy(self) -> Strategy:
        """The limits strategy it enforces unless `--strategy` says otherwise."""
        ...

    @property
    def limit_defaults(self) -> Mapping[str, int]:
        """The shared LLM limits it reads (`llm_limits.LIMITS`, e.g. "rpm"), each
        with its default when the flag is not given; empty for an API without them."""
        ...

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Its own flags, in a group of its own on the server's parser."""
        ...

    def settings_from_args(
        self, args: argparse.Namespace, server: ServerSettings, strategy: Strategy
    ) -> EndpointSettings:
        """Its settings from the parsed flags, `server` holding the shared ones
        (without any API's yet); RatebenchError for a value it cannot run with."""
        ...

    def mount(self, app: FastAPI, core: Core) -> MountedEndpoint:
        """Add its routes to one worker's `app`, on the worker's shared state."""
        ...


#: Every API the server answers, by name, in the order they are mounted,
#: listed in `--help` and shown in `GET /log`'s settings. The OpenAI-compatible
#: endpoint last: it answers every other path under /v1 with OpenAI's 404.
ENDPOINTS: dict[str, ServerEndpoint] = {
    endpoint.name: endpoint
    for endpoint in (ChatEndpoint(), AnthropicEndpoint(), GeminiEndpoint(), OpenAIEndpoint())
}
