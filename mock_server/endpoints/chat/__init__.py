"""`GET /chat`, the write-up's endpoint: one limit on requests, kept by slowapi.

Its flags and settings in `settings`, its route in `routes` (imported when
a server mounts it: the registry stays cheap to import for the bench and
the clients, which never serve it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mock_server.endpoints.chat.settings import (
    ChatSettings,
    add_chat_arguments,
    chat_settings_from_args,
)
from mock_server.settings import ServerSettings
from mock_server.vocabulary import Strategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mock_server.core import Core, MountedEndpoint


class ChatEndpoint:
    """The registry's entry for `GET /chat` (see `mock_server.endpoints`)."""

    name = "chat"
    # slowapi's default: the window opens at the first hit and rejected hits count.
    default_strategy: Strategy = "fixed-window"

    @property
    def limit_defaults(self) -> dict[str, int]:
        return {}  # its one limit is --rate, not an LLM's

    def __repr__(self) -> str:
        return "<ChatEndpoint GET /chat>"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_chat_arguments(parser)

    def settings_from_args(
        self, args: argparse.Namespace, server: ServerSettings, strategy: Strategy
    ) -> ChatSettings:
        return chat_settings_from_args(args, server, strategy)

    def mount(self, app: FastAPI, core: Core) -> MountedEndpoint:
        from mock_server.endpoints.chat.routes import ChatRoutes

        return ChatRoutes(app, core, core.settings.endpoint(self.name, ChatSettings))
