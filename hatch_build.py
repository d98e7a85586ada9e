"""The wheel's build: the three floors under one import name, `ratebench`.

In the repository `bench/`, `clients/` and `mock_server/` are top-level
packages that import each other by those names (`from bench.records import
...`). A wheel that shipped them so would put three generic names into a
user's environment. This hook ships them inside `ratebench/` instead
(`ratebench/bench/...`), beside the `ratebench/` package's own files, and
rewrites each module's absolute imports of the four packages to match
(`from bench.x import y` -> `from ratebench.bench.x import y`, `import
clients` -> `from ratebench import clients`). Only import statements are
rewritten, found by Python's own parser; a module that names another by a
string works out the name from its own (`__name__`, `clients.__name__`).

An editable install (`uv sync` in a checkout) takes none of this: the
checkout's folders are importable as they are, `ratebench` among them.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT_NAME = "ratebench"
FLOORS = ("mock_server", "clients", "bench")


class ImportRewriteError(ValueError):
    """An import the rewrite cannot express under the one name."""


def rewrite_imports(source: str, filename: str = "<source>") -> str:
    """`source` with its absolute imports of the floors (and of `ratebench`)
    under `ratebench`. Idempotent: an import already under it is left alone."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # (line, start col, end col, text)
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in FLOORS:
                continue
            line = lines[node.lineno - 1]
            start = line.index("from", node.col_offset) + len("from")
            name_at = line.index(node.module, start)
            edits.append((node.lineno - 1, name_at, name_at, f"{ROOT_NAME}."))
        elif isinstance(node, ast.Import):
            floors = [a for a in node.names if a.name.split(".")[0] in FLOORS]
            if not floors:
                continue
            if len(node.names) > 1 or "." in floors[0].name or node.end_lineno != node.lineno:
                raise ImportRewriteError(
                    f"{filename}:{node.lineno}: write `import {floors[0].name}` alone on its "
                    "line, or `from PACKAGE import NAME`: the wheel renames imports of "
                    f"{', '.join(FLOORS)} under {ROOT_NAME}"
                )
            line = lines[node.lineno - 1]
            assert node.end_col_offset is not None
            alias = floors[0]
            text = f"from {ROOT_NAME} import {alias.name}"
            if alias.asname:
                text += f" as {alias.asname}"
            edits.append((node.lineno - 1, node.col_offset, node.end_col_offset, text))
    # From the end, so that earlier columns still hold.
    for index, start, end, text in sorted(edits, reverse=True):
        line = lines[index]
        lines[index] = line[:start] + text + line[end:]
    return "".join(lines)


class RatebenchWheel(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        self.staging = Path(tempfile.mkdtemp(prefix="ratebench-wheel-"))
        force_include: dict[str, str] = build_data["force_include"]
        for package in (ROOT_NAME, *FLOORS):
            prefix = ROOT_NAME if package == ROOT_NAME else f"{ROOT_NAME}/{package}"
            for path in sorted((root / package).rglob("*")):
                if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                target = f"{prefix}/{path.relative_to(root / package).as_posix()}"
                if path.suffix != ".py":
                    force_include[str(path)] = target
                    continue
                staged = self.staging / target
                staged.parent.mkdir(parents=True, exist_ok=True)
                staged.write_text(rewrite_imports(path.read_text(), str(path)))
                force_include[str(staged)] = target

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        staging = getattr(self, "staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
