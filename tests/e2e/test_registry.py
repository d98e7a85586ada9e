"""The registry is cheap: listing the clients, or running one, imports only what it
needs (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "requests", "redis", "aiolimiter", "aiometer", "anyio")


def test_listing_the_clients_imports_no_http_library() -> None:
    code = (
        "import sys, clients; clients.specs(); import clients.cli; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_running_one_client_imports_what_it_needs_only() -> None:
    code = (
        "import sys, clients, clients.catalog.token_bucket as c; "
        "from clients.infra import async_batch; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "['aiohttp']"
