"""The words every part of ratebench shares: the server, the clients and the bench.

The floor of the import graph: it imports nothing of ratebench, and
everything may import it.

- Errors: `RatebenchError` carries the one line a command prints for bad
  input (`fail`: `error: ...` on stderr, exit status `EXIT_USAGE`), and
  `OneLineParser` makes argparse's own errors that line too.
- Units: `MINUTE`, the window of every per-minute limit, in scenario seconds.
- Strategies: how the server enforces a limit: one of limits' windows, or
  the token bucket (`mock_server.token_bucket`).
- The time scale: every duration of a scenario, multiplied by it, at most
  `MAX_TIME_SCALE`.
- Latency: a response time drawn per accepted request; whole-number bounds
  draw `randint`, as the write-up does, fractional ones `uniform`.
- Redis: a window Redis holds must be a whole number of milliseconds.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, get_args

# -- errors and the one-line CLI --------------------------------------------------

EXIT_USAGE = 2


class RatebenchError(ValueError):
    """Bad input: a setting, flag or value no run can use. The message is the
    one line a command prints, saying what is wrong and how to fix it."""


class UsageError(RatebenchError):
    """Bad input found after parsing (values that depend on each other, files)."""


def fail(message: str) -> NoReturn:
    """Print `error: message` as one line on stderr and exit with status 2."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


#: How a command is named in its usage and error lines when the `ratebench`
#: command runs it (`python -m mock_server` -> `ratebench serve`): set by
#: `ratebench.cli`, empty for `python -m`.
PROG_NAMES: dict[str, str] = {}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming `--help`, and exit status 2.

    argparse prints its usage block before the error; a person who mistyped a
    flag needs the error and where to look, not the block.
    """

    def __init__(self, **kwargs: Any) -> None:
        prog = kwargs.get("prog")
        for module, command in PROG_NAMES.items():
            if prog is not None and (prog == module or prog.startswith(module + " ")):
                kwargs["prog"] = command + prog[len(module) :]
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")


def shown(text: str, width: int = 24) -> str:
    """`text` quoted, cut to `width` characters for an error line."""
    return repr(text) if len(text) <= width else repr(text[:width] + "...")


# -- units ------------------------------------------------------------------------

#: Seconds in the minute of a per-minute limit (RPM, TPM), in scenario seconds.
MINUTE = 60.0

# -- strategies -------------------------------------------------------------------

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter", "token-bucket"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
#: The strategies that count in windows, the limits library's; the rest is the token bucket.
WINDOW_STRATEGIES: tuple[Strategy, ...] = (
    "fixed-window",
    "moving-window",
    "sliding-window-counter",
)


def check_strategy(text: str) -> Strategy:
    """`text` if it names a strategy; RatebenchError otherwise."""
    if text not in STRATEGIES:
        raise RatebenchError(f"strategy {text!r} is unknown: use one of {', '.join(STRATEGIES)}")
    return text


# -- the time scale ---------------------------------------------------------------

#: The slowest time scale: one scenario second lasting 100 s of wall clock is
#: already slow motion; past it windows, sleeps and deadlines overflow the clocks
#: or never end.
MAX_TIME_SCALE = 100.0


def check_time_scale(value: float) -> float:
    """`value` if it is a time scale a server and a bench can run at: above 0, at
    most MAX_TIME_SCALE."""
    if not (math.isfinite(value) and 0 < value <= MAX_TIME_SCALE):
        raise RatebenchError(
            f"time scale {value:g} must be a number above 0 and at most {MAX_TIME_SCALE:g}, "
            "e.g. 1 for real time or 0.1 to run ten times faster"
        )
    return value


# -- latency ----------------------------------------------------------------------

#: The longest response time a latency model may draw, in scenario seconds. No
#: API takes an hour to answer; past it a slip of the keyboard (or 400 digits,
#: which read as infinity) only makes runs that never end and draws that are NaN.
MAX_LATENCY = 3600.0


@dataclass(frozen=True, slots=True)
class Latency:
    """The response time drawn for each accepted request, in scenario seconds.

    Whole-number bounds draw `random.randint(low, high)` whole seconds, as the
    write-up does; fractional bounds draw `random.uniform(low, high)`.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= MAX_LATENCY:  # also false for NaN and infinity
            raise RatebenchError(
                f"latency {self.low:g}-{self.high:g} must be 0 <= low <= high <= "
                f"{MAX_LATENCY:g} seconds: write the lower bound first, e.g. 2-5"
            )

    @property
    def whole_seconds(self) -> bool:
        return float(self.low).is_integer() and float(self.high).is_integer()

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def draw(self, rng: random.Random) -> float:
        """One response time from `rng` (one draw of it)."""
        if self.whole_seconds:
            return float(rng.randint(int(self.low), int(self.high)))
        return rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else str(x)

        return f"{fmt(self.low)}-{fmt(self.high)}"


_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$")


def parse_latency(text: str) -> Latency:
    """`"2-5"` -> Latency(2, 5); `"3"` -> Latency(3, 3); at most MAX_LATENCY seconds."""
    match = _LATENCY.match(text)
    if not match:
        raise RatebenchError(
            f"latency {shown(text)} is not a range of seconds: use LOW-HIGH, e.g. 2-5, "
            "or one number"
        )
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) is not None else low
    if not max(low, high) <= MAX_LATENCY:  # also false for infinity
        raise RatebenchError(
            f"latency {shown(text)} is more than {MAX_LATENCY:g} seconds (an hour) per "
            "request: give seconds, e.g. 2-5 or 0.2-0.8"
        )
    if low > high:
        raise RatebenchError(f"latency {text!r} is inverted: write the lower bound first, e.g. 2-5")
    return Latency(low, high)


# -- Redis ------------------------------------------------------------------------


def whole_milliseconds(seconds: float) -> bool:
    """Whether `seconds` is a whole number of milliseconds, at least one: what
    Redis can expire a key after (PEXPIRE takes whole milliseconds)."""
    ms = seconds * 1000
    return round(ms) >= 1 and abs(ms - round(ms)) <= 1e-6


def check_redis_window(window: float, time_scale: float, what: str, given: str) -> None:
    """RatebenchError unless a window of `window` scenario seconds lasts a whole
    number of milliseconds at `time_scale`; `what` names the window in the
    message and `given` shows it as the user gave it (`2/second`, `1s`)."""
    if not whole_milliseconds(window * time_scale):
        raise RatebenchError(
            f"with Redis storage {what} times the time scale must be a whole number of "
            f"milliseconds (Redis expires keys to the millisecond): {given} at time scale "
            f"{time_scale:g} is {window * time_scale * 1000:g} ms; pick a time scale such as 0.1"
        )
