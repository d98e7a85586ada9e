"""What each client did against the OpenAI-compatible endpoint's two limits, in words.

`bench.output.report` writes one section per client: what it does (its spec), what
theory says, what was measured. Against two limits the telling figures
differ by policy, so each policy adds the one it is about, every number
from the runs' records and the server's log, or from theory.json:

- every client: the best possible (`bench.endpoints.openai.bound`), theory's simulated
  runs (`bench.endpoints.openai.models`) where it has a model, and how its median run
  filled the windows of both limits;
- SDK retries and random backoff: how many requests were lost, and why
  their attempts could not reach enough windows;
- the cookbook's processor: the 15 s pauses its 429s started, and what they
  cost against the bound;
- header_adaptive: its 429s in its first window and after it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.endpoints import llm_report
from bench.endpoints.openai.plots import PROGRESS_FILE, WINDOWS_FILE, limit_windows, limits_of
from bench.records.results import Expected, RunRecord, TheoryRecord
from bench.records.stats import (
    ClientStats,
    gave_up,
    representative_run,
    unanswered,
)
from clients.limiters.cookbook_bucket import COOLDOWN
from clients.spec import ClientSpec

_COOKBOOK = "cookbook parallel"


def theory_words(expected: Expected | None) -> str:
    """What theory says: the bound, and the client's simulated runs or why none."""
    if expected is None:
        return "Theory: none was stored with these runs."
    text = f"Theory: the best possible under both limits is {expected.bound:.2f} s."
    if expected.predicted_mean is None:
        return text + f" Theory has no model of this client: {expected.no_model or 'none'}."
    lost = expected.predicted_failed or 0.0
    if lost >= 0.05:
        return text + (
            f" Its model (the same policy in virtual time against the two limits) predicts "
            f"{lost:.1f} requests lost per run, the batch ending at "
            f"{expected.predicted_mean:.2f} s, "
            f"{expected.predicted_rejections or 0.0:.1f} × 429."
        )
    return text + (
        f" Its model (the same policy in virtual time against the two limits) predicts "
        f"{expected.predicted_mean:.2f} s ± {expected.predicted_stddev or 0.0:.2f} s, "
        f"{expected.predicted_mean / expected.bound:.2f} × the bound, with "
        f"{expected.predicted_rejections or 0.0:.1f} × 429 per run."
    )


def windows_words(run: RunRecord) -> str:
    """How the run filled the windows of both limits (server log)."""
    rpm, tpm, _ = limits_of(run)
    windows = limit_windows(run)
    if not windows:
        return ""
    admitted = ", ".join(str(w.admitted) for w in windows)
    tokens = ", ".join(f"{w.tokens:,}" for w in windows)
    charged = any(w.tokens for w in windows)
    text = (
        f" The server's log of run {run.run + 1}: its {len(windows)} windows admitted "
        f"{admitted} requests (RPM {rpm})"
    )
    if charged:
        text += f" and charged {tokens} tokens (TPM {tpm:,})"
    refused = sum(w.refused for w in windows)
    return text + (f"; {refused} sends were refused." if refused else "; none was refused.")


def _lost_why(run: RunRecord) -> str:
    """Why a client whose retries ran out lost requests: how many attempts its lost
    requests made, how long they kept trying, and the windows they reached."""
    windows = limit_windows(run)
    served = sum(w.admitted for w in windows)
    lost = unanswered(run.attempts)
    tries: dict[int, list[float]] = {}
    for a in run.attempts:
        if a.request in lost:
            tries.setdefault(a.request, []).append(run.scenario.seconds(a.sent))
    counts = sorted({len(t) for t in tries.values()})
    spans = [max(t) - min(t) for t in tries.values()]
    _, _, window = limits_of(run)
    made = "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else counts[0]
    return (
        f" Its lost requests made {made} attempts each and gave up "
        f"{statistics.median(spans):.1f} s (median) after their first, so the batch reached "
        f"{len(windows)} of the server's {window:g} s windows, which admitted {served} of "
        f"{run.n}; a larger batch loses more."
    )


def pauses(run: RunRecord, pause: float) -> tuple[int, float]:
    """(pauses, seconds paused) from the run's 429s: each answer opens a pause of
    `pause` scenario seconds, and one arriving during a pause extends it."""
    ends = sorted(
        run.scenario.seconds(a.finished) for a in run.attempts if a.outcome == "rate_limited"
    )
    count, total, until = 0, 0.0, float("-inf")
    for at in ends:
        if at >= until:
            count += 1
            total += pause
        else:
            total += at + pause - until
        until = max(until, at + pause)
    return count, total


def _cookbook_cost(runs: Sequence[RunRecord], bound: float | None) -> str:
    counted = [pauses(r, COOLDOWN) for r in runs]
    count = statistics.fmean(c for c, _ in counted)
    paused = statistics.fmean(t for _, t in counted)
    text = (
        f" Its 429s started {count:.1f} pauses per run, {paused:.1f} s in all without a new "
        f"send (each {COOLDOWN:g} s; a 429 during a pause lengthens it)"
    )
    mean = statistics.fmean(r.seconds for r in runs)
    if bound:
        text += f", and it ended {mean - bound:.1f} s after the best possible"
    return text + "."


def _first_window_words(runs: Sequence[RunRecord]) -> str:
    """header_adaptive: its 429s before and after its first window closed."""
    first, later = [], []
    for run in runs:
        windows = limit_windows(run)
        if not windows:
            continue
        _, _, window = limits_of(run)
        end = windows[0].opened + window
        refused = [
            run.scenario.seconds(a.sent) for a in run.attempts if a.outcome == "rate_limited"
        ]
        first.append(sum(1 for t in refused if t < end))
        later.append(sum(1 for t in refused if t >= end))
    if not first:
        return ""
    n = runs[0].n
    per_hundred = statistics.fmean(later) / n * 100
    return (
        f" Its 429s came {statistics.fmean(first):.1f} per run in its first window, while it "
        f"learned the limits, and {statistics.fmean(later):.1f} after it "
        f"({per_hundred:.2f} per 100 requests)."
    )


def policy_words(spec: ClientSpec, runs: Sequence[RunRecord], bound: float | None) -> str:
    """The one figure a policy is about, measured."""
    if not runs:
        return ""
    run = representative_run(runs)
    if gave_up(run):
        return _lost_why(run)
    if spec.policy == _COOKBOOK:
        return _cookbook_cost(runs, bound)
    if spec.policy == "header adaptive":
        return _first_window_words(runs)
    return ""


def figure_lines() -> list[str]:
    return [
        "Both limits, from the server's log: the requests each window admitted and refused "
        "against the RPM beside the tokens it charged against the TPM, and the requests "
        "and tokens completed over time against the most the limits allow by then (every "
        "client drawn, those that gave up on requests too); then the requests on the wire "
        "over time, and how long answered attempts took.",
        "",
        f"![Requests per window against the RPM, tokens against the TPM]({WINDOWS_FILE})",
        "",
        f"![Completed requests and tokens over time]({PROGRESS_FILE})",
        "",
    ]


def client_sections(
    runs: Sequence[RunRecord], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client against the two limits, those that gave up included."""
    return llm_report.client_sections(
        runs,
        stats,
        theory,
        theory_words,
        lambda spec, drawn, expected: (
            windows_words(representative_run(drawn))
            + policy_words(spec, drawn, expected.bound if expected else None)
        ),
    )
