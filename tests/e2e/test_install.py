"""ratebench as a user installs it: into a fresh virtual environment outside
the checkout, from the uv cache (the locked versions; no network when the
cache holds them). The `ratebench` command answers, the package adds one
import name (`ratebench`) and no generic one (`bench`, `clients`,
`mock_server`), and the example test project (examples/pytest_project, a
batch function tested with the `ratebench_server` fixture and the `openai`
SDK) passes under the installed pytest plugin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

PROJECT = ROOT / "examples" / "pytest_project"
#: Which of the names the package could have put at the top level it did.
FIND_NAMES = (
    "import importlib.util as u; "
    "print([n for n in ('ratebench', 'bench', 'clients', 'mock_server') if u.find_spec(n)])"
)


def uv(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [shutil.which("uv") or "uv", *map(str, args)]
    return subprocess.run(
        command, check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(map(str, command)), check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def install(*args: str | Path) -> None:
    """`uv pip install ARGS`, from the cache if it can, else from the index."""
    result = uv("pip", "install", "--quiet", "--offline", *args)
    if result.returncode != 0:
        result = uv("pip", "install", "--quiet", *args)
    assert result.returncode == 0, result.stderr


def test_installed_ratebench_serves_and_its_fixture_tests_a_project(tmp_path: Path) -> None:
    if shutil.which("uv") is None:
        pytest.fail("this test installs the package with uv: put uv on PATH")
    venv, lock = tmp_path / "venv", tmp_path / "pylock.toml"
    assert uv("venv", "--quiet", venv).returncode == 0
    # The locked versions, runtime and dev (pytest), by URL: the cache holds them.
    exported = uv("export", "--frozen", "--all-groups", "--no-emit-project", "-q", "-o", lock)
    assert exported.returncode == 0, exported.stderr
    python = venv / "bin" / "python"
    install("--python", python, "-r", lock)
    install("--python", python, "--no-deps", ROOT)

    served = run(venv / "bin" / "ratebench", "serve", "--help")
    assert served.returncode == 0, served.stderr
    assert "--time-scale" in served.stdout
    names = run(python, "-c", FIND_NAMES, cwd=tmp_path)
    assert names.stdout.split() == ["['ratebench']"], names.stderr

    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
