"""`python -m bench [COMMAND]`: the commands, their signals and their one-line errors.

`python -m bench` alone runs the comparison (`bench.commands.compare`); a
first argument naming a command runs that one. Bad input anywhere is one
line on stderr and exit status 2, with nothing already recorded lost.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import cast

from bench.commands import Interrupted
from mock_server.processes.server import ServerError
from mock_server.vocabulary import RatebenchError, fail


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second signal (a launcher that forwards the first, an impatient
    # Ctrl-C) must not interrupt the clean-up the first one started, which
    # stops the server and keeps every finished run.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Interrupted(signum)


#: Each command's module under bench/commands/, imported only when it runs:
#: `python -m bench plot` needs matplotlib, a bad flag to the bench does not.
COMMANDS = {
    "plot": "plot",
    "replay": "replay",
    "load": "load",
    "sweep": "sweep",
    "redis": "redis",
    "requests": "requests",
    "concurrency": "concurrency",
    "animate": "animate",
    "diff": "diff",
    "leaderboard": "leaderboard",
}


def _command(name: str) -> Callable[[list[str]], int]:
    module = importlib.import_module(f"{__package__}.commands.{name}")
    return cast(Callable[[list[str]], int], module.main)


def leave(status: int) -> int:
    """`status`, or the process's exit with it at once when the bench left runs in
    flight behind (`bench.running.parallel.ABANDONED`): their clients' threads
    would otherwise keep it alive until their retries ran out."""
    from bench.running.parallel import ABANDONED

    if ABANDONED.is_set():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # From here on SIGINT and SIGTERM unwind the stack like Ctrl-C, so that
    # every `with` (the server process above all) is closed on the way out.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        if argv and argv[0] in COMMANDS:
            return _command(COMMANDS[argv[0]])(argv[1:])
        return leave(_command("compare")(argv))
    except (RatebenchError, ServerError) as exc:
        fail(str(exc))
    except Interrupted as exc:
        print(f"interrupted ({exc})", file=sys.stderr)
        return 128 + exc.signum
    except OSError as exc:
        # A disk that is full, read-only, or a path taken by a folder: what
        # was already on disk stays, and the user gets the file and the cause.
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc} (is the folder read-only or the disk full?)")


__all__ = ["main"]
