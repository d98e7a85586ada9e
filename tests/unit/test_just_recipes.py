"""The justfile itself: no recipe installs system packages."""

from __future__ import annotations

from tests.helpers import ROOT


def test_no_recipe_installs_system_packages() -> None:
    # Redis and everything else come from uv.lock: no recipe needs root or apt.
    justfile = (ROOT / "justfile").read_text()
    assert "apt-get" not in justfile
    assert "sudo" not in justfile
