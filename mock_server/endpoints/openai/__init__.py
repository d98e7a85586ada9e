"""The OpenAI-compatible endpoint: `POST /v1/chat/completions`, `GET /v1/models`.

Its flags and settings in `settings`, its routes in `api` (imported when a
server mounts it: the registry stays cheap to import for the bench and the
clients, which never serve it), OpenAI's headers and error bodies in
`errors`, the request body it takes in `schema`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mock_server.endpoints.openai.settings import (
    DEFAULTS,
    OpenAISettings,
    add_openai_arguments,
    openai_settings_from_args,
)
from mock_server.settings import ServerSettings
from mock_server.vocabulary import Strategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mock_server.core import Core, MountedEndpoint


class OpenAIEndpoint:
    """The registry's entry for the OpenAI-compatible endpoint (see `mock_server.endpoints`)."""

    name = "openai"
    # A bucket refilled continuously, a whole minute's worth: what OpenAI's reset
    # headers and "try again in" waits show (README, "How OpenAI's limits refill").
    default_strategy: Strategy = "token-bucket"

    @property
    def limit_defaults(self) -> dict[str, int]:
        return {"rpm": DEFAULTS.rpm, "tpm": DEFAULTS.tpm}

    def __repr__(self) -> str:
        return "<OpenAIEndpoint POST /v1/chat/completions>"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_openai_arguments(parser)

    def settings_from_args(
        self, args: argparse.Namespace, server: ServerSettings, strategy: Strategy
    ) -> OpenAISettings:
        return openai_settings_from_args(args, server, strategy)

    def mount(self, app: FastAPI, core: Core) -> MountedEndpoint:
        from mock_server.endpoints.openai.api import OpenAIRoutes

        return OpenAIRoutes(app, core, core.settings.endpoint(self.name, OpenAISettings))
