"""Ctrl-C for the mock server: one line, however early or late it lands.

A KeyboardInterrupt raised in the middle of an import can be swallowed by the
library being imported, or come out dressed as that library's own error
(pydantic's SchemaError, a TypeError from `typing`). The handler therefore
remembers that Ctrl-C came, so that `__main__` can say so in one line and the
server does not start serving after all.

It also keeps asyncio's runner from installing a SIGINT handler of its own for
uvicorn's loop (it does so only over Python's default handler): with that one in
place, a Ctrl-C that landed while uvicorn started was sometimes lost, and the
server went on serving (4 in 150 tries on a busy machine). uvicorn saves this
handler, catches Ctrl-C while it serves, shuts down and re-raises it through it.
"""

from __future__ import annotations

import signal
from types import FrameType

_seen = False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _seen  # noqa: PLW0603 - one process, one Ctrl-C
    _seen = True
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, _interrupt)


def seen() -> bool:
    """Whether Ctrl-C came, even if what it raised was swallowed."""
    return _seen
