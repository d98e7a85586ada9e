"""What each client does and what theory says of it, in words, keyed by policy.

A client's spec says what it does (`spec.explain`). What theory says follows
from its policy and the scenario, so the prose here is written once per
policy (and once for every client that caps its requests in flight, the
Little's law case) and filled with the scenario's numbers and the stored
predictions. Nothing here runs theory: the figures are theory.json's.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.records.commands import spec_for
from bench.records.results import Expected, RunRecord
from bench.records.scenario import Scenario
from bench.records.stats import ClientStats, representative_run
from bench.theory.schedules import (
    ONE_AT_A_TIME,
    collision_waves,
    describe_sends,
    fixed_sends,
    forced_edge_rejection,
)
from clients.config import ClientConfig
from clients.spec import ClientSpec


@dataclass(frozen=True, slots=True)
class Context:
    """One client in one scenario, with what theory stored for it (None: nothing)."""

    spec: ClientSpec
    scenario: Scenario
    config: ClientConfig
    expected: Expected | None

    @property
    def sleeps(self) -> list[float]:
        return self.scenario.retry_sleeps(self.config)


def _plus(values: Sequence[float]) -> str:
    return " + ".join(f"{v:g}" for v in values)


def _little(ctx: Context) -> str:
    """Clients that cap requests in flight: Little's law bounds their throughput."""
    workers, latency = ctx.config.workers, ctx.scenario.latency.mean
    e = ctx.expected
    text = (
        f"Theory (Little's law): throughput = requests in flight / mean latency = "
        f"{workers} / {latency:g} s"
    )
    if e is None or e.little_throughput is None or e.little_makespan is None:
        return text + "."
    limit = ctx.scenario.limit.per_second
    if e.little_bottleneck == "concurrency":
        return (
            text + f" ≈ {e.little_throughput:.2f} requests/s, well under the limit of "
            f"{limit:g} requests/s, so {ctx.scenario.n} requests take about "
            f"{e.little_makespan:.1f} s, a little more since the slowest of the {workers} "
            "queues ends the batch."
        )
    if e.little_bottleneck == "limit":
        return (
            text + f", more than the limit of {limit:g} requests/s: the limit, not the cap, "
            "sets the pace, and sends beyond it meet 429s."
        )
    return (
        text + f", but the {e.little_bottleneck} allows {e.little_throughput:.2f} requests/s: "
        f"about {e.little_makespan:.1f} s for {ctx.scenario.n} requests."
    )


def _waves_text(ctx: Context) -> tuple[str, list[int]]:
    n, count = ctx.scenario.n, ctx.scenario.limit.count
    waves = collision_waves(n, count)
    if not waves:
        return f"Theory: the whole batch fits in one window ({n} ≤ {count}), so no 429.", waves
    return (
        f"Theory: the first window lets {count} of the {n} through and rejects the other "
        f"{waves[0]} at once",
        waves,
    )


def _no_limit(ctx: Context) -> str:
    """Everything at once: collision waves, and the retry sleeps set the makespan."""
    text, waves = _waves_text(ctx)
    if not waves:
        return text
    sleeps = ctx.sleeps
    if not sleeps:
        return text + "; with no retries they fail."
    used = sleeps[: len(waves)]
    text += (
        f"; each retry wave arrives together and again only {ctx.scenario.limit.count} get "
        f"through, so {_plus(waves[: len(used)])} = {sum(waves[: len(used)])} rejections"
    )
    if len(waves) > len(sleeps):
        return (
            text + f", and {waves[len(sleeps)]} requests are still rejected when their "
            f"{len(sleeps) + 1} attempts run out."
        )
    left = ctx.scenario.n - ctx.scenario.limit.count * len(waves)
    return (
        text + f", and the last {left} start after {_plus(used)} = {sum(used):g} s; the batch "
        "ends one latency later."
    )


def _reopen_gate(ctx: Context) -> str:
    """Everything at once, but a 429 says when to come back: waves one window apart."""
    text, waves = _waves_text(ctx)
    if not waves:
        return text
    window = ctx.scenario.limit.window
    bound = f", {ctx.expected.bound:.2f} s" if ctx.expected is not None else ""
    return (
        text + f", as with no limit ({_plus(waves)} = {sum(waves)} × 429), but the waves go "
        f"one window apart, so the last leave at about {len(waves) * window:g} s and the "
        f"batch takes about the bound{bound}: here a 429 costs nothing, the fixed backoff "
        "schedule did."
    )


def _schedule_words(ctx: Context) -> str:
    e = ctx.expected
    return f"{e.schedule:.2f} s" if e is not None and e.schedule is not None else ""


def _token_bucket(ctx: Context) -> str:
    """Whole tokens at `rate`: one send per 1/rate, after the tokens it starts with."""
    config, limit = ctx.config, ctx.scenario.limit
    gap = 1 / config.rate
    sends = fixed_sends(ctx.spec, ctx.scenario, config) or [0.0]
    keeps = config.rate * limit.window <= limit.count and config.initial_tokens <= limit.count
    schedule = _schedule_words(ctx)
    return (
        f"Theory: the first send goes out at {sends[0]:g} s and one more every {gap:g} s"
        + (
            f", never more than {limit.count} in a window, so no 429"
            if keeps
            else f", more than the {limit.count} per {limit.window:g} s the server allows, "
            "so expect 429s"
        )
        + f"; the last leaves at {sends[-1]:g} s and the batch ends when the slowest of the "
        "last few answers" + (f", about {schedule} on this schedule" if schedule else "") + "."
    )


def _leaky_bucket(ctx: Context) -> str:
    """A burst of `capacity`, then one per 1/rate: the burst fills a fixed window."""
    config = ctx.config
    gap = 1 / config.rate
    sends = fixed_sends(ctx.spec, ctx.scenario, config) or []
    schedule = _schedule_words(ctx)
    if not forced_edge_rejection(ctx.scenario, config):
        return (
            f"Theory: a burst of {config.capacity} at t = 0, then one send every {gap:g} s"
            + (
                f": {describe_sends(sends)}, about {schedule} if none is rejected"
                if schedule
                else ""
            )
            + "."
        )
    sleeps = ctx.sleeps
    text = (
        f"Theory: the server's fixed window opens at the first hit, so the burst of "
        f"{config.capacity} fills it and the next send ({gap:g} s) is rejected: at least one "
        "429 in every run"
        + (
            f", and its retry waits {sleeps[0]:g} s and then queues for the limiter again"
            if sleeps
            else ""
        )
        + "."
    )
    if config.rate == ctx.scenario.limit.per_second:
        text += (
            " Later sends fall exactly one window apart, on the instant the server's window "
            "turns over, so each later edge can cost another 429"
        )
        text += (
            f"; without them the sends {describe_sends(sends)} would take {schedule}."
            if schedule
            else "."
        )
    return text


def _paced_starts(ctx: Context) -> str:
    """One start per 1/rate from t = 0, no burst; retries unmetered."""
    gap = 1 / ctx.config.rate
    sends = fixed_sends(ctx.spec, ctx.scenario, ctx.config) or []
    schedule = _schedule_words(ctx)
    return (
        f"Theory: one start every {gap:g} s from t = 0 and no burst keeps at most "
        f"{ctx.scenario.limit.count} sends in any window anchored at a send, and a late timer "
        "delays every later start too, which tends to keep the sends off the window's edges "
        "(the more so at full scale, where a millisecond is a smaller share of a window)"
        + (
            f"; sends at {describe_sends(sends)} take {schedule}, one send interval better than "
            "a bucket that starts empty and waits for its first token."
            if schedule
            else "."
        )
    )


def _sliding_log(ctx: Context) -> str:
    """At most L in any window: the best schedule there is."""
    limit = ctx.scenario.limit
    w = limit.window
    bound = f": about {ctx.expected.bound:.2f} s" if ctx.expected is not None else ""
    return (
        f"Theory: the best schedule that keeps the limit, {limit.count} sends at t = 0, "
        f"{w:g}, {2 * w:g}, … s, late only by the margin{bound}, and no 429 under any of "
        "the server's strategies."
    )


def _shared_sliding_log(ctx: Context) -> str:
    limit = ctx.scenario.limit
    return (
        "Theory: as one sliding-log client, whatever the number of processes: "
        f"{limit.count} sends per window from t = 0 and no 429."
    )


POLICY_TEXTS: dict[str, Callable[[Context], str]] = {
    "no limit": _no_limit,
    "reopen gate": _reopen_gate,
    "token bucket": _token_bucket,
    "leaky bucket": _leaky_bucket,
    "paced starts": _paced_starts,
    "sliding log": _sliding_log,
    "shared sliding log": _shared_sliding_log,
}


def theory_text(ctx: Context) -> str:
    """What theory says of the client, with its stored prediction when there is one."""
    if ctx.spec.caps_in_flight:
        text = _little(ctx)
    else:
        words = POLICY_TEXTS.get(ctx.spec.policy)
        text = words(ctx) if words else "Theory: see the makespan plot."
    e = ctx.expected
    if e is not None and e.predicted_mean is not None:
        text += f" Theory's model of this client predicts {e.predicted_mean:.2f} s" + (
            f" ± {e.predicted_stddev:.2f} s" if e.predicted_stddev is not None else ""
        )
        if e.predicted_rejections is not None:
            text += f" and {e.predicted_rejections:.1f} × 429 per run"
        text += "."
    elif e is not None and e.no_model:
        text += f" Theory has no model of this client: {e.no_model}."
    return text


# -- one more measured sentence, for the policies whose point is one number --------


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _ordinal(k: int) -> str:
    return _ORDINALS[k - 1] if 1 <= k <= len(_ORDINALS) else f"{k}th"


def max_in_flight(run: RunRecord) -> int:
    """The most requests the server was working on at once, from its log."""
    events = [(e.arrival, 1) for e in run.server_log if e.left is not None]
    events += [(e.left, -1) for e in run.server_log if e.left is not None]
    in_flight = peak = 0
    for _, step in sorted(events):
        in_flight += step
        peak = max(peak, in_flight)
    return peak


def client_facts(spec: ClientSpec, runs: Sequence[RunRecord]) -> str:
    """One more measured sentence where a policy's point is one number."""
    if spec.caps_in_flight:
        peak = max(max_in_flight(run) for run in runs)
        return f" The server never had more than {peak} of its requests in flight."
    if spec.policy == "leaky bucket":
        hit = runs[0].config.capacity  # the first send after the burst, counted from 0
        rejected = 0
        for run in runs:
            log = sorted(run.server_log, key=lambda e: e.arrival)
            if len(log) > hit and log[hit].rejected:
                rejected += 1
        return (
            f" The {_ordinal(hit + 1)} hit was rejected in {rejected} of {len(runs)} runs; "
            "the other 429s fell on later window edges."
        )
    if spec.policy == "reopen gate":
        waits = [
            run.scenario.seconds(a.limiter_wait)
            for run in runs
            for a in run.attempts
            if a.attempt > 0
        ]
        if waits:
            first = runs[0].config.first_sleep
            return (
                f" Retries waited at the gate {statistics.median(waits):.2f} s (median) "
                f"instead of a {first:g} s sleep."
            )
    return ""


# -- measured, in words, beside theory's ----------------------------------------------------------


def edge_text(ctx: Context, stats: ClientStats) -> str:
    """Why a client whose theory promised no 429 met some: the sentence the
    report owes its reader between the two (empty when there is nothing to explain)."""
    e = ctx.expected
    predicted = e.predicted_rejections if e is not None else None
    promised_none = (predicted is not None and round(predicted, 1) == 0) or "no 429" in (
        theory_text(ctx)
    )
    if not promised_none or stats.mean_rejections == 0:
        return ""
    hit = sum(1 for r in stats.rejections if r)
    return (
        f" Theory counts the server's windows from the first send; the server opened its "
        f"window when that request reached the limiter, a few milliseconds later, so a send "
        f"exactly one window after the first can arrive while that window is still full and "
        f"be refused: {hit} of {stats.runs} runs met such a window-edge 429, each costing a "
        "retry sleep."
    )


def measured_sleeps(runs: Sequence[RunRecord]) -> list[float]:
    """Median retry sleep (scenario seconds) before the 2nd, 3rd, ... attempt:
    from one attempt's finish to the next attempt of the same request."""
    gaps: dict[int, list[float]] = {}
    for run in runs:
        attempts = sorted(run.attempts, key=lambda a: (a.request, a.attempt))
        for before, after in itertools.pairwise(attempts):
            if before.request == after.request:
                gaps.setdefault(after.attempt, []).append(
                    run.scenario.seconds(after.queued - before.finished)
                )
    return [statistics.median(gaps[k]) for k in sorted(gaps)]


def measured_text(stats: ClientStats, runs: Sequence[RunRecord]) -> str:
    """What the runs showed, every number from the records."""
    spec = spec_for(stats.client, runs[0].command.command if runs and runs[0].command else None)
    parts = [
        f"Measured: {stats.mean:.2f} s ± {stats.stddev:.2f} s over {stats.runs} "
        f"run{'s' if stats.runs != 1 else ''} ({stats.min:.2f} … {stats.max:.2f} s), "
        f"{stats.mean_rejections:.1f} × 429 per run in the server's log"
    ]
    if stats.client_rejections != stats.rejections:
        parts.append(
            f" (the client counted {stats.mean_client_rejections:.1f}: the two should agree)"
        )
    parts.append(".")
    run = representative_run(runs)
    sends = sorted(run.scenario.seconds(a.sent) for a in run.attempts)
    if len(sends) > 1:
        steps = [b - a for a, b in itertools.pairwise(sends)]
        parts.append(
            f" In its median run (run {run.run + 1}) the first request went out at "
            f"{sends[0]:.2f} s and the last at {sends[-1]:.2f} s"
            + (
                f", one every {statistics.median(steps):.2f} s (median)"
                if spec.paces and spec.policy in ONE_AT_A_TIME
                else ""
            )
            + "."
        )
    sleeps = measured_sleeps(runs)
    if sleeps:
        parts.append(
            " Retry sleeps (median before each further attempt): "
            + ", ".join(f"{s:.1f}" for s in sleeps)
            + " s."
        )
    parts.append(client_facts(spec, runs))
    unfinished = sum(stats.incomplete)
    if unfinished:
        parts.append(f" {unfinished} requests never succeeded across the runs.")
    return "".join(parts)
