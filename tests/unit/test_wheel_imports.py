"""The wheel's import rewrite (hatch_build.py): the floors' absolute imports
put under `ratebench`, nothing else touched, twice the same as once, and an
import it cannot express refused with the fix."""

from __future__ import annotations

import importlib.util
import re
import sys
import types

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def rewrite_imports() -> types.FunctionType:
    # hatch_build.py subclasses hatchling's hook, which only the build installs.
    interface = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    interface.BuildHookInterface = object  # type: ignore[attr-defined]
    saved = sys.modules.get(interface.__name__)
    sys.modules[interface.__name__] = interface
    try:
        spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules[interface.__name__]
        else:
            sys.modules[interface.__name__] = saved
    return module.rewrite_imports  # type: ignore[no-any-return]


SOURCE = '''"""from bench.x import y, in a docstring, stays."""
import json
import clients
import mock_server as server
from bench.records.results import (
    RunRecord,
)
from benchmarks import other
from ratebench.cli import main


def f() -> None:
    from clients.catalog import aiolimiter
    print("python -m bench")
'''

EXPECTED = '''"""from bench.x import y, in a docstring, stays."""
import json
from ratebench import clients
from ratebench import mock_server as server
from ratebench.bench.records.results import (
    RunRecord,
)
from benchmarks import other
from ratebench.cli import main


def f() -> None:
    from ratebench.clients.catalog import aiolimiter
    print("python -m bench")
'''


def test_floor_imports_go_under_ratebench_once(rewrite_imports: types.FunctionType) -> None:
    assert rewrite_imports(SOURCE) == EXPECTED
    assert rewrite_imports(EXPECTED) == EXPECTED


@pytest.mark.parametrize("line", ["import bench.cli", "import json, clients"])
def test_an_import_the_wheel_cannot_rename_is_refused(
    rewrite_imports: types.FunctionType, line: str
) -> None:
    with pytest.raises(ValueError, match="alone on its line"):
        rewrite_imports(line + "\n", "x.py")


def test_every_module_of_the_floors_rewrites(rewrite_imports: types.FunctionType) -> None:
    for package in ("bench", "clients", "mock_server", "ratebench"):
        for path in (ROOT / package).rglob("*.py"):
            rewrite_imports(path.read_text(), str(path))


#: A module named by a string the wheel's rewrite cannot see: `import_module("clients.x")`
#: or `python -m bench` run as a child process.
NAMED_BY_STRING = re.compile(
    r"""(import_module\(\s*f?["']|["']-m["'],\s*f?["'])(bench|clients|mock_server)\b"""
)


def test_no_module_is_named_by_a_string_the_wheel_would_not_rename() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in ("bench", "clients", "mock_server", "ratebench")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if NAMED_BY_STRING.search(line)
    ]
    assert found == [], (
        "installed, these names are ratebench.bench and the like: take them from a module "
        "object (f'{clients.__name__}.catalog.{name}', [sys.executable, '-m', "
        "mock_server.__name__])\n" + "\n".join(found)
    )
