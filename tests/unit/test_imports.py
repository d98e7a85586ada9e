"""The shape of the code, from its own imports: no circle of files, no import from a
lower floor back up (mock_server < clients < bench), no private name taken from
another module, and bench's longest chain of imports kept short.

Every import counts, those inside functions too: an import moved into a function
is not a way around a circle.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("mock_server", "clients", "bench", "ratebench")  # floors, lowest first
#: The longest chain of imports inside bench/ before it was laid out in rooms.
CHAIN_BEFORE = 15


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path, known: dict[str, Path]) -> set[tuple[str, str | None]]:
    """(module imported, name taken or None) for every import of a project module."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(a.name, None) for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                # `from package import module` imports the module, not a name of it.
                found.add((child, None) if child in known else (node.module, alias.name))
    return found


@cache
def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported, _ in imports_of(path, known):
            target = imported
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def floor(module: str) -> int:
    return PACKAGES.index(module.split(".", maxsplit=1)[0])


def test_no_module_imports_a_lower_floor_back_up() -> None:
    upward = [
        f"{a} -> {b}" for a, targets in graph().items() for b in targets if floor(b) > floor(a)
    ]
    assert upward == []


def test_no_circle_of_files() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    circles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert circles == []


def test_no_module_takes_a_private_name_of_another() -> None:
    known = modules()
    private = [
        f"{module_name(path)} takes {source}.{name}"
        for path in known.values()
        for source, name in imports_of(path, known)
        if name is not None and name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_benchs_longest_chain_of_imports_is_shorter_than_before() -> None:
    edges = {a: {b for b in t if b.startswith("bench")} for a, t in graph().items()}

    @cache
    def longest(node: str) -> int:
        return 1 + max((longest(n) for n in edges[node]), default=0)

    chain = max(longest(m) for m in edges if m.startswith("bench"))
    assert chain < CHAIN_BEFORE
