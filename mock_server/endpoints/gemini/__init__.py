"""Google's Gemini API: `POST /v1beta/models/{model}:generateContent` and the rest.

Its flags and settings in `settings`, its three quotas and the day clock in
`quotas` (their state in `storage`), its routes in `api` (imported when a
server mounts it: the registry stays cheap to import for the bench and the
clients), Google's error bodies in `errors`, the request body and its input
tokens in `schema`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mock_server.endpoints.gemini.settings import (
    DEFAULTS,
    GeminiSettings,
    add_gemini_arguments,
    gemini_settings_from_args,
)
from mock_server.settings import ServerSettings
from mock_server.vocabulary import Strategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mock_server.core import Core, MountedEndpoint


class GeminiEndpoint:
    """The registry's entry for the Gemini API (see `mock_server.endpoints`)."""

    name = "gemini"
    # Minute windows aligned on the clock's minutes: Google's answer on when its
    # minute limits reset ("every minute at second 00"); see `quotas`.
    default_strategy: Strategy = "fixed-window"

    @property
    def limit_defaults(self) -> dict[str, int]:
        return {"rpm": DEFAULTS.rpm, "itpm": DEFAULTS.itpm, "rpd": DEFAULTS.rpd}

    def __repr__(self) -> str:
        return "<GeminiEndpoint POST /v1beta/models/{model}:generateContent>"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_gemini_arguments(parser)

    def settings_from_args(
        self, args: argparse.Namespace, server: ServerSettings, strategy: Strategy
    ) -> GeminiSettings:
        return gemini_settings_from_args(args, server, strategy)

    def mount(self, app: FastAPI, core: Core) -> MountedEndpoint:
        from mock_server.endpoints.gemini.api import GeminiRoutes

        return GeminiRoutes(app, core, core.settings.endpoint(self.name, GeminiSettings))
