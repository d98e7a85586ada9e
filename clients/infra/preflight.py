"""Checks made before a run's clock starts, so that bad input fails in a second.

The reachability check opens a TCP connection and closes it without sending
anything: an HTTP request to the endpoint would count against the server's
rate limit and open its fixed window before the run begins.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from clients.config import ConfigError


def address(url: str) -> tuple[str, int]:
    """The (host, port) that `url` connects to; ConfigError if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # e.g. a port that is not a number
        raise ConfigError(f"--url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--url {url!r} is not a valid URL; expected something like http://127.0.0.1:8000/chat"
        )
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_reachable(url: str, timeout: float = 2.0) -> None:
    """Raise ConfigError unless something accepts TCP connections at `url`.

    Blocks for at most about `timeout` seconds.
    """
    host, port = address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror:
        raise ConfigError(f"cannot resolve host {host!r} of --url {url}") from None
    except ConnectionRefusedError:
        raise ConfigError(
            f"nothing is listening at {url} (connection refused); start the server "
            "with `python -m mock_server` or pass --url"
        ) from None
    except OSError as exc:  # timeouts, unreachable networks
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot connect to {url} ({reason}); check --url") from None


def check_writable(path: Path, flag: str = "--json") -> None:
    """Raise ConfigError unless a file can be written at `path` (nothing is created)."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: directory {parent} does not exist; create it first")
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        raise ConfigError(f"{flag} {path}: permission denied; choose a writable path")
