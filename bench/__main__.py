import signal
from types import FrameType


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    # Nothing is running yet: exit as a signalled shell command would, quietly.
    raise SystemExit(128 + signum)


# Before the heavy imports, so that a signal while they load is no traceback.
signal.signal(signal.SIGINT, _stop_while_starting)
signal.signal(signal.SIGTERM, _stop_while_starting)

from bench.cli import main  # noqa: E402

raise SystemExit(main())
