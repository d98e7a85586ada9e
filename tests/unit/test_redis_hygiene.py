"""A storage URI shown anywhere hides its password."""

from __future__ import annotations

import pytest

from mock_server.redact import redact, redact_text


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://user:pw@host/1", "redis://user:***@host/1"),
        ("redis://pw@host/0", "redis://***@host/0"),
        ("redis://host/0?password=pw&db=1", "redis://host/0?password=***&db=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("memory://", "memory://"),
    ],
)
def test_credentials_are_hidden_in_a_storage_uri(uri: str, shown: str) -> None:
    assert redact(uri) == shown
    hidden = "***" if "pw" in uri else "pw"
    assert redact_text(f"at {uri}: port 'pw' is bad", uri) == f"at {shown}: port '{hidden}' is bad"
