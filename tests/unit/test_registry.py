"""The registry: every client has a complete spec, and listing them is cheap."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

import clients
from clients.spec import ClientSpec, SpecError


@pytest.mark.parametrize("name", clients.REGISTRY)
def test_every_registered_client_has_a_complete_spec_and_an_entry_point(name: str) -> None:
    spec = clients.spec(name)
    assert isinstance(spec, ClientSpec)
    assert spec.name == name
    assert spec.summary.strip()
    assert spec.explain.strip()
    module = sys.modules[f"clients.catalog.{name}"]
    assert callable(module.run)


@pytest.mark.parametrize("name", clients.REGISTRY)
def test_every_client_gives_theory_its_hook_or_says_why_not(name: str) -> None:
    """One theory hook for every endpoint: `virtual_loops`, or `no_model` saying why
    there is none (and no excuse beside a hook)."""
    spec = clients.spec(name)
    hook = clients.virtual_loops(name)
    if hook is None:
        assert spec.no_model.strip(), f"{name}: no virtual_loops and no no_model"
    else:
        assert callable(hook)
        assert not spec.no_model, (
            f"{name} has virtual_loops, yet its no_model says {spec.no_model!r}"
        )


def test_a_client_module_without_hook_or_excuse_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = sys.modules["clients.catalog.aiometer"]
    monkeypatch.setattr(module, "SPEC", replace(module.SPEC, no_model=""))
    clients._module.cache_clear()
    try:
        with pytest.raises(SpecError, match="no_model must say why"):
            clients.spec("aiometer")
    finally:
        clients._module.cache_clear()


def test_the_registry_lists_every_catalog_module_once() -> None:
    from pathlib import Path

    catalog = Path(clients.__file__).parent / "catalog"
    modules = sorted(p.stem for p in catalog.glob("*.py") if p.stem != "__init__")
    assert sorted(clients.REGISTRY) == modules
    assert len(set(clients.REGISTRY)) == len(clients.REGISTRY)


def test_an_incomplete_spec_is_refused() -> None:
    good = clients.spec("token_bucket")
    with pytest.raises(SpecError, match="summary"):
        replace(good, summary=" ")
    with pytest.raises(SpecError, match="policy"):
        replace(good, policy="vibes")  # type: ignore[arg-type]


def test_an_unknown_client_names_the_known_ones() -> None:
    with pytest.raises(clients.ConfigError, match="known clients: thread_pool"):
        clients.spec("warp_drive")
