"""`ratebench COMMAND`: the console command runs the server's, a client's and the
bench's own entry points under names of its own, errors one line, status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_one_line_error, run_cli

RATEBENCH = Path(sys.executable).parent / "ratebench"


def ratebench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RATEBENCH, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_help_names_every_command() -> None:
    result = run_cli("ratebench", "--help")  # python -m ratebench, the same command
    assert result.returncode == 0
    for command in ("serve", "client NAME", "bench", "sweep", "animate", "redis"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (("serve", "--help"), "usage: ratebench serve "),
        (("client", "--help"), "usage: ratebench client "),
        (("bench", "--help"), "usage: ratebench bench "),
        (("sweep", "--help"), "usage: ratebench bench sweep "),
    ],
)
def test_each_command_is_named_as_typed(args: tuple[str, ...], usage: str) -> None:
    result = ratebench(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("nope",), "unknown command 'nope'"),
        (("sweep", "--bogus"), "(see ratebench bench sweep --help)"),
        (("serve", "--port", "x"), "(see ratebench serve --help)"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args: tuple[str, ...], words: str) -> None:
    assert_one_line_error(ratebench(*args), words)
