"""What each client did against Anthropic's three buckets, in words.

One section per client (`bench.output.report` writes them): what it does (its
spec), what theory says (the three-bucket bound, its simulated runs where it
has a model), what was measured, and from the server's log which bucket its
median run drew on minute by minute; a client that lost requests, why; a
client that learns the limits, where its 429s fell.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.endpoints import llm_report
from bench.endpoints.anthropic.limits import AnthropicLimits
from bench.endpoints.anthropic.plots import (
    LIMIT_NAMES,
    PROGRESS_FILE,
    WINDOWS_FILE,
    charges,
    per_minute,
)
from bench.records.results import Expected, RunRecord, TheoryRecord
from bench.records.stats import (
    ClientStats,
    gave_up,
    representative_run,
    unanswered,
)
from clients.spec import ClientSpec


def theory_words(expected: Expected | None) -> str:
    if expected is None:
        return "Theory: none was stored with these runs."
    text = f"Theory: the best possible under the three buckets is {expected.bound:.2f} s."
    if expected.predicted_mean is None:
        return text + f" Theory has no model of this client: {expected.no_model or 'none'}."
    lost = expected.predicted_failed or 0.0
    if lost >= 0.05:
        return text + (
            f" Its model (the same policy in virtual time against the three buckets) "
            f"predicts {lost:.1f} requests lost per run, the batch ending at "
            f"{expected.predicted_mean:.2f} s, {expected.predicted_rejections or 0.0:.1f} × 429."
        )
    return text + (
        f" Its model (the same policy in virtual time against the three buckets) predicts "
        f"{expected.predicted_mean:.2f} s ± {expected.predicted_stddev or 0.0:.2f} s, "
        f"{expected.predicted_mean / expected.bound:.2f} × the bound, with "
        f"{expected.predicted_rejections or 0.0:.1f} × 429 per run."
    )


def minutes_words(run: RunRecord) -> str:
    """Which bucket each minute of the run drew on (server log)."""
    made = charges(run)
    if not made[0]:
        return ""
    limits = AnthropicLimits.of(run.scenario)
    amounts = (limits.rpm, limits.itpm, limits.otpm)
    parts = []
    for name, mine, limit in zip(LIMIT_NAMES, made, amounts, strict=True):
        minutes = ", ".join(f"{c:,}" for c in per_minute(mine))
        parts.append(f"{name} {minutes} (limit {limit:,})")
    refused = run.rejections
    return (
        f" The server's log of run {run.run + 1}, minute by minute from the batch's start: "
        + "; ".join(parts)
        + (f"; {refused} sends were refused." if refused else "; none was refused.")
    )


def _lost_why(run: RunRecord) -> str:
    lost = unanswered(run.attempts)
    tries: dict[int, list[float]] = {}
    for a in run.attempts:
        if a.request in lost:
            tries.setdefault(a.request, []).append(run.scenario.seconds(a.sent))
    if not tries:
        return ""
    spans = [max(t) - min(t) for t in tries.values()]
    return (
        f" Its lost requests gave up {statistics.median(spans):.1f} s (median) after their "
        "first attempt: each retry waited the retry-after of its 429, the time until that "
        "one request would fit, and found the bucket spent again by the requests retrying "
        "with it."
    )


def _learning_words(runs: Sequence[RunRecord]) -> str:
    """A client that learns the limits: its 429s in its first minute and after."""
    first, later = [], []
    for run in runs:
        refused = [
            run.scenario.seconds(a.sent) for a in run.attempts if a.outcome == "rate_limited"
        ]
        first.append(sum(1 for t in refused if t < 60.0))
        later.append(sum(1 for t in refused if t >= 60.0))
    if not first:
        return ""
    return (
        f" Its 429s came {statistics.fmean(first):.1f} per run in its first minute, while "
        f"it learned the limits, and {statistics.fmean(later):.1f} after it."
    )


def policy_words(spec: ClientSpec, runs: Sequence[RunRecord]) -> str:
    if not runs:
        return ""
    run = representative_run(runs)
    if gave_up(run):
        return _lost_why(run)
    if spec.policy == "header adaptive":
        return _learning_words(runs)
    return ""


def figure_lines() -> list[str]:
    return [
        "The three buckets, from the server's log: each minute's requests, input tokens "
        "and output tokens charged against each limit (a bucket that starts full gives up "
        "to twice a limit in the first minute), and what was charged so far against the "
        "most a full bucket gives by then; then the requests on the wire over time, and "
        "how long answered attempts took.",
        "",
        f"![Each minute's charges to the three buckets]({WINDOWS_FILE})",
        "",
        f"![Charged so far, against the buckets]({PROGRESS_FILE})",
        "",
    ]


def client_sections(
    runs: Sequence[RunRecord], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client against the three buckets, those that gave up included."""
    return llm_report.client_sections(
        runs,
        stats,
        theory,
        theory_words,
        lambda spec, drawn, _: minutes_words(representative_run(drawn)) + policy_words(spec, drawn),
    )
