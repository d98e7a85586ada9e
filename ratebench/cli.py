"""`ratebench COMMAND`: one command for the server, a client and the bench.

`ratebench serve` is `python -m mock_server`, `ratebench client NAME` is
`python -m clients NAME`, `ratebench bench` is `python -m bench`, and each
of the bench's commands is also a command of its own (`ratebench sweep` is
`python -m bench sweep`). Each runs the module's own `__main__`, so its
signals, interrupts and one-line errors are the same either way.
"""

from __future__ import annotations

import runpy
import sys
from types import ModuleType

import bench
import clients
import mock_server
from bench.cli import COMMANDS
from mock_server.vocabulary import PROG_NAMES, fail

#: The commands besides the bench's own, and the package whose `__main__` each runs.
PACKAGES: dict[str, ModuleType] = {"serve": mock_server, "client": clients, "bench": bench}
USAGE = f"""usage: ratebench COMMAND [ARGS...]

A mock rate-limited API server, clients that send a batch through it, and a
bench that measures them against theory. `ratebench COMMAND --help` for each.

commands:
  serve         the mock server (python -m mock_server)
  client NAME   one client against a running server (python -m clients)
  bench         the comparison, or one of the bench's commands (python -m bench)
  {", ".join(COMMANDS)}
                the bench's commands, as `ratebench bench COMMAND`
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    command, rest = argv[0], argv[1:]
    if command in COMMANDS:
        command, rest = "bench", argv
    if command not in PACKAGES:
        fail(
            f"unknown command {command!r}: one of {', '.join([*PACKAGES, *COMMANDS])} "
            "(see ratebench --help)"
        )
    PROG_NAMES.update(
        {
            f"python -m {p.__name__.rpartition('.')[2]}": f"ratebench {c}"
            for c, p in PACKAGES.items()
        }
    )
    sys.argv = [f"ratebench {command}", *rest]
    # The module's `__main__` exits with the command's status.
    runpy.run_module(f"{PACKAGES[command].__name__}.__main__", run_name="__main__")
    return 0
