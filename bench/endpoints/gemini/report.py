"""What each client did against Gemini's three quotas, in words: the bound across
days, theory's simulated runs, and what was measured, every number from the runs'
records and the server's log, or from theory.json."""

from __future__ import annotations

from collections.abc import Sequence

from bench.endpoints import llm_report
from bench.endpoints.gemini.plots import QUOTAS_FILE, day_refusals
from bench.records.results import Expected, RunRecord, TheoryRecord
from bench.records.stats import ClientStats, gave_up


def theory_words(expected: Expected | None) -> str:
    if expected is None:
        return "Theory: none was stored with these runs."
    text = f"Theory: the best possible under the three quotas is {expected.bound:.2f} s."
    if expected.predicted_mean is None:
        return text + f" Theory has no model of this client: {expected.no_model or 'none'}."
    lost = expected.predicted_failed or 0.0
    if lost >= 0.05:
        return text + (
            f" Its model predicts {lost:.1f} requests lost per run, the batch ending at "
            f"{expected.predicted_mean:.2f} s, {expected.predicted_rejections or 0.0:.1f} × 429."
        )
    return text + (
        f" Its model predicts {expected.predicted_mean:.2f} s ± "
        f"{expected.predicted_stddev or 0.0:.2f} s, {expected.predicted_mean / expected.bound:.2f} "
        f"× the bound, with {expected.predicted_rejections or 0.0:.1f} × 429 per run."
    )


def lost_words(runs: Sequence[RunRecord]) -> str:
    lost = [gave_up(r) for r in runs]
    return (
        f"Measured: it gave up on {min(lost)}-{max(lost)} of {runs[0].n} requests per run "
        f"({len(runs)} runs), {sum(r.rejections for r in runs) / len(runs):.1f} × 429 a run."
    )


def day_words(runs: Sequence[RunRecord]) -> str:
    """The day's 429s of each run, and the attempts in a spent day after the first."""
    counted = [day_refusals(r) for r in runs]
    if not any(refused for refused, _ in counted):
        return ""
    each = ", ".join(f"{refused} ({late})" for refused, late in counted)
    return (
        f" Per-day 429s a run (in brackets: attempts that reached a spent day after its "
        f"first per-day 429 had come back): {each}."
    )


def figure_lines() -> list[str]:
    return [
        "The three quotas, from the server's log: requests and input tokens admitted in "
        "each minute against the RPM and the ITPM, and requests admitted so far against "
        "the day's quota, the days' openings dotted.",
        "",
        f"![Requests and input tokens per minute, requests per day]({QUOTAS_FILE})",
        "",
    ]


def client_sections(
    runs: Sequence[RunRecord], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client against the three quotas, those that gave up included."""
    return llm_report.client_sections(
        runs,
        stats,
        theory,
        theory_words,
        lambda _, drawn, __: day_words(drawn),
        lambda drawn, _: lost_words(drawn),
    )
