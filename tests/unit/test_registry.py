"""The registry: every client has a complete spec, and listing them is cheap."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

import clients
from clients.spec import ClientSpec, Model, SpecError


@pytest.mark.parametrize("name", clients.REGISTRY)
def test_every_registered_client_has_a_complete_spec_and_an_entry_point(name: str) -> None:
    spec = clients.spec(name)
    assert isinstance(spec, ClientSpec)
    assert spec.name == name
    assert spec.summary.strip()
    assert spec.explain.strip()
    assert spec.model is not None or spec.no_model.strip()
    module = sys.modules[f"clients.catalog.{name}"]
    assert callable(module.run)


def test_the_registry_lists_every_catalog_module_once() -> None:
    from pathlib import Path

    catalog = Path(clients.__file__).parent / "catalog"
    modules = sorted(p.stem for p in catalog.glob("*.py") if p.stem != "__init__")
    assert sorted(clients.REGISTRY) == modules
    assert len(set(clients.REGISTRY)) == len(clients.REGISTRY)


def test_an_incomplete_spec_is_refused() -> None:
    good = clients.spec("token_bucket")
    with pytest.raises(SpecError, match="no_model"):
        replace(good, model=None, no_model="")
    with pytest.raises(SpecError, match="summary"):
        replace(good, summary=" ")
    with pytest.raises(SpecError, match="policy"):
        replace(good, policy="vibes")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="shape"):
        replace(good, model=Model("swarm", "none"))  # type: ignore[arg-type]


def test_an_unknown_client_names_the_known_ones() -> None:
    with pytest.raises(clients.ConfigError, match="known clients: thread_pool"):
        clients.spec("warp_drive")
