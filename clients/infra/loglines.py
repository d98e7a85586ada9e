"""The write-up's own log lines, so a run reads like the article's listings.

Times are scenario seconds from the run's start (wall seconds / time
scale) with two decimals (the write-up printed FAIL times unformatted; we
format them like the others); retry sleeps are in scenario seconds too, as
the write-up printed them, so a run at any time scale reads in one unit.
"""

from __future__ import annotations


def start(t: float) -> str:
    return f"=== {t:.2f} Start All Tasks ==="


def finish(t: float) -> str:
    return f"=== {t:.2f} Finish All Tasks ==="


def sending(request: int, t: float) -> str:
    return f"[Request {request}] Sending {t:.2f}"


def success(request: int, t: float, body: object) -> str:
    return f"[Request {request}] SUCCESS {t:.2f}: receive {body}"


def fail_retry(request: int, t: float, sleep: float) -> str:
    # `:g` prints the schedule as the write-up did: 3, 9, 81, not 3.0.
    return f"[Request {request}] FAIL {t:.2f}: retry in {sleep:g} seconds"


def fail_final(request: int, t: float) -> str:
    # The write-up slept once more and then raised "Hit max retry limit";
    # we skip the pointless last sleep and say the same thing.
    return f"[Request {request}] FAIL {t:.2f}: hit max retry limit"


def deadline(t: float, unfinished: int) -> str:
    return f"=== {t:.2f} Deadline reached, {unfinished} requests unfinished ==="
