"""Anthropic's Messages API: `POST /v1/messages`, `POST /v1/messages/count_tokens`.

Its flags and settings in `settings`, its three token buckets in `buckets`,
its routes in `api` (imported when a server mounts it: the registry stays
cheap to import), its headers, error bodies and faults in `errors`, the
body it takes and the input tokens it charges in `schema`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mock_server.endpoints.anthropic.settings import (
    DEFAULT_LIMITS,
    AnthropicSettings,
    add_anthropic_arguments,
    anthropic_settings_from_args,
)
from mock_server.settings import ServerSettings
from mock_server.vocabulary import Strategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mock_server.core import Core, MountedEndpoint


class AnthropicEndpoint:
    """The registry's entry for the Messages endpoint (see `mock_server.endpoints`)."""

    name = "anthropic"
    # Anthropic's limits are token buckets, refilled continuously (its rate-limit page).
    default_strategy: Strategy = "token-bucket"

    def __repr__(self) -> str:
        return "<AnthropicEndpoint POST /v1/messages>"

    @property
    def limit_defaults(self) -> dict[str, int]:
        return dict(DEFAULT_LIMITS)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_anthropic_arguments(parser)

    def settings_from_args(
        self, args: argparse.Namespace, server: ServerSettings, strategy: Strategy
    ) -> AnthropicSettings:
        return anthropic_settings_from_args(args, server, strategy)

    def mount(self, app: FastAPI, core: Core) -> MountedEndpoint:
        from mock_server.endpoints.anthropic.api import AnthropicRoutes

        return AnthropicRoutes(app, core, core.settings.endpoint(self.name, AnthropicSettings))
