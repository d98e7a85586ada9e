"""Client `gemini_budget`: told Gemini's three quotas, it plans the batch across days.

Told the requests and input tokens per minute, the requests per day, the
length of a day and where in it the batch starts (`config.rpm`, `itpm`,
`rpd`, `day_minutes`, `day_start`, as Google's rate-limit page and the clock
on the wall tell a user), it keeps `budget_window`'s log of sends with their
charges (here the input tokens: Gemini's TPM counts nothing else) and a count
of each day's sends beside it (`clients.limiters.day_quota.DayLog`), and the
one `BudgetWindowLimiter` waits for both. Requests go in file order as soon as
the trailing minute and the day have room: the bound's schedule
(`bench.endpoints.gemini.bound`), a margin later per minute, and no 429.
A batch larger than a day allows waits for the next day's opening (plus the
margin) and carries on; it says at its start how many days it needs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec
from mock_server.vocabulary import MINUTE

if TYPE_CHECKING:
    from clients.infra.gemini_batch import GeminiLimiterFor
    from clients.infra.gemini_request_set import GeminiRequest
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch
    from clients.limiters.base import Clock, Limiter

NAME = "gemini_budget"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="quota budget",
    summary="asyncio + aiohttp + RPM and input TPM in any minute + RPD in each day, planned",
    explain=(
        "Told the three quotas and where in the day the batch starts, it says how many days "
        "the batch needs, then sends in file order as soon as the trailing minute has room "
        "for one more request and its input tokens and the day has room for one more "
        "request; a full day waits for the next one's opening. That is the bound's schedule, "
        "a margin later per minute, and no 429."
    ),
    paces=True,
    caps_in_flight=False,
    api="gemini",
)


def first_day_end(config: ClientConfig) -> float:
    """Scenario seconds from the batch's start to the next day's opening."""
    hours, minutes = (int(x) for x in config.day_start.split(":"))
    return config.day_minutes * MINUTE * (1 - (hours * 60 + minutes) / 1440)


def plan_line(config: ClientConfig) -> str:
    """What it says at its start: the days the batch needs and what each takes."""
    from clients.limiters.day_quota import plan_days

    if config.rpm is None or config.rpd is None:
        raise ConfigError(f"{NAME} must be told the quotas: set rpm, itpm and rpd")
    days = plan_days(
        config.n, config.rpd, config.rpm, first_day_end(config), config.day_minutes * MINUTE
    )
    each = ", ".join(str(d) for d in days)
    return (
        f"=== plan: {config.n} requests at {config.rpd} a day need {len(days)} "
        f"day{'s' if len(days) != 1 else ''} ({each}); the next day opens "
        f"{first_day_end(config):.0f} s in ==="
    )


def make_limiters(config: ClientConfig, clock: Clock | None = None) -> GeminiLimiterFor:
    """Each request's limiter, over one shared pair of logs; ConfigError if not told
    the quotas. `clock`: the limiter's (theory's virtual one); by default the real one."""
    from clients.catalog.budget_window import BUDGET_MARGIN
    from clients.infra.gemini_request_set import prompt_tokens
    from clients.limiters.budget_window import BudgetLog, BudgetWindowLimiter
    from clients.limiters.day_quota import AllBudgets, DayLog

    if config.rpm is None or config.itpm is None or config.rpd is None:
        raise ConfigError(f"{NAME} must be told the quotas: set rpm, itpm and rpd")
    window = config.scaled(MINUTE)
    if window <= 10 * BUDGET_MARGIN:
        raise ConfigError(
            f"{NAME} needs a minute longer than ten times its {BUDGET_MARGIN * 1e3:g} ms margin, "
            f"got {window:g} s: use a time scale of at least {10 * BUDGET_MARGIN / MINUTE:.3f}"
        )
    clock = clock or time.monotonic
    start = clock()
    days = DayLog(
        config.rpd,
        config.scaled(config.day_minutes * MINUTE),
        start + config.scaled(first_day_end(config)),
        BUDGET_MARGIN,
    )
    minutes = BudgetLog(config.rpm, config.itpm, window, BUDGET_MARGIN)
    shared = BudgetWindowLimiter(AllBudgets((minutes, days)), clock=clock)

    def limiter_for(request: GeminiRequest) -> Limiter:
        charge = request.charge if request.charge is not None else prompt_tokens(request.body)
        return shared.for_request(charge)

    return limiter_for


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or the deadline passed."""
    from clients.infra.gemini_batch import run_gemini_batch

    line = plan_line(config)
    if on_line is not None:
        on_line(line)
    return run_gemini_batch(NAME, config, make_limiters, on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): its own limiter, on the virtual clock."""
    from clients.infra.gemini_request_set import GeminiRequest
    from clients.infra.virtual import limiter_loops

    limiter_for = make_limiters(batch.config, batch.recorder.clock)
    return limiter_loops(lambda charge: limiter_for(GeminiRequest(0, "", {}, charge)), batch)
