"""Bad input is one line on stderr and exit status 2, for every command.

argparse prints its usage block before the error; a person who mistyped a
flag needs the error and where to look, not the block. `UsageError` is for
what is checked after parsing (values that depend on each other, files);
`main` functions catch it and call `fail`.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input found after parsing; its message says what is wrong and how to fix it."""


def fail(message: str) -> NoReturn:
    """Print `error: message` as one line on stderr and exit with status 2."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming `--help`, and exit status 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")
