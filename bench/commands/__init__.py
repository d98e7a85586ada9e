"""One module per `python -m bench` command: its flags, its checks, what it prints.

The work itself lives in the modules named after it (runner, predict,
summary, report, sweep, load, shared_limit); a command parses its command
line into typed settings once, calls them, and prints.
"""

from __future__ import annotations

import signal


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM; remembers which, for the exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
