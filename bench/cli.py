"""`python -m bench [COMMAND]`: the commands, their signals and their one-line errors.

`python -m bench` alone runs the comparison (`bench.commands.compare`); a
first argument naming a command runs that one. Bad input anywhere is one
line on stderr and exit status 2, with nothing already recorded lost.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

from bench.commands import Interrupted
from bench.results import ResultsError
from bench.scenario import ScenarioError
from clients.config import ConfigError
from clients.infra.oneline import UsageError, fail
from mock_server.process import ServerError
from mock_server.redis_process import RedisUnavailable
from mock_server.settings import SettingsError


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def _commands() -> dict[str, Callable[[list[str]], int]]:
    from bench.commands import compare, load, plot, redis, replay, sweep

    return {
        "": compare.main,
        "plot": plot.main,
        "replay": replay.main,
        "load": load.main,
        "sweep": sweep.main,
        "redis": redis.main,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = _commands()
    # From here on SIGINT and SIGTERM unwind the stack like Ctrl-C, so that
    # every `with` (the server process above all) is closed on the way out.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        if argv and argv[0] in commands and argv[0]:
            return commands[argv[0]](argv[1:])
        return commands[""](argv)
    except (
        UsageError,
        ResultsError,
        ServerError,
        ConfigError,
        SettingsError,
        ScenarioError,
        RedisUnavailable,
    ) as exc:
        fail(str(exc))
    except Interrupted as exc:
        print(f"interrupted ({exc})", file=sys.stderr)
        return 128 + exc.signum


__all__ = ["main"]
