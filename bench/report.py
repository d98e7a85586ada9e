"""`report.md`: the plots, the numbers and what they mean, from the files alone.

Every measured figure in the report is computed here from `runs.jsonl`
(and theory's fields from `summary.json` when present); the only fixed
figures are theory's, stated for the write-up's scenario and only when the
run used it.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.matrix import has_matrix, matrix_markdown
from bench.plots import (
    MAKESPAN_FILE,
    REJECTIONS_FILE,
    THROUGHPUT_FILE,
    TIMELINE_FILE,
    by_client,
    client_timeline_file,
    draw_all,
    limit_per_second,
    load_summary,
    ok_runs,
    representative_run,
)
from bench.replay import replay_runs
from bench.results import REPORT_FILE, load_runs
from bench.stats import ClientStats, client_stats, server_rejections, speedups
from bench.theory import bound, exact_makespan
from clients.config import ClientConfig
from clients.infra.retry import retry_sleep
from mock_server.settings import SettingsError, parse_latency, parse_limit

# -- send-to-arrival matching -------------------------------------------------


# Only arrivals this close to a send (wall seconds) can be its arrival; keeps
# the matching linear in the run's length instead of quadratic.
MATCH_WINDOW = 1.0
# Clients that send on a schedule of their own: the report gives their median spacing.
PACED_CLIENTS = {"token_bucket", "threads_bucket", "aiolimiter", "aiometer"}


def match_arrivals(
    sends: Sequence[float],
    arrivals: Sequence[float],
    finished: Sequence[float] | None = None,
    left: Sequence[float | None] | None = None,
) -> list[tuple[int, int]]:
    """Pair each client attempt with the server log entry that recorded it.

    All times are absolute seconds on the shared monotonic clock: the
    client's send and finish, the server's arrival and `left` (response
    handed over; None if not logged). Returns (attempt index, log index)
    pairs; attempts with no arrival within `MATCH_WINDOW` of their send
    are left out.

    The cost of a pair is |arrival - send|, plus |left - finished| when
    both are known, and the cheapest pairs are taken first. Send order
    alone is not enough: two threads can stamp their sends in one order
    and reach the server in the other (one opens a new connection, the
    other reuses one), and only the finish times then tell them apart.
    """
    order = sorted(range(len(arrivals)), key=lambda j: arrivals[j])
    times = [arrivals[j] for j in order]
    candidates: list[tuple[float, int, int]] = []
    for i, sent in enumerate(sends):
        lo = bisect.bisect_left(times, sent - MATCH_WINDOW)
        hi = bisect.bisect_right(times, sent + MATCH_WINDOW)
        for j in order[lo:hi]:
            cost = abs(arrivals[j] - sent)
            end = left[j] if left is not None else None
            if finished is not None and end is not None:
                cost += abs(end - finished[i])
            candidates.append((cost, i, j))
    candidates.sort()
    used_sends: set[int] = set()
    used_arrivals: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in candidates:
        if i not in used_sends and j not in used_arrivals:
            used_sends.add(i)
            used_arrivals.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class ClockGaps:
    """How far the client's timestamps sit from the server's, in wall seconds.

    `send_to_arrival`: server arrival minus client send, per matched attempt.
    `left_to_finished`: client finish minus the server's `left` (response
    handed over), for matched attempts the server logged a `left` for.
    `unmatched`: attempts with no arrival in the server's log.
    """

    send_to_arrival: list[float]
    left_to_finished: list[float]
    unmatched: int


def clock_gaps(run: dict[str, Any]) -> ClockGaps:
    """Match one run's attempts to its server log and measure the gaps."""
    started = float(run["started"])
    attempts = run["attempts"]
    log = [e for e in run["server_log"] if isinstance(e.get("arrival"), int | float)]
    sends = [started + float(a["sent"]) for a in attempts]
    finished = [started + float(a["finished"]) for a in attempts]
    arrivals = [float(e["arrival"]) for e in log]
    left = [float(e["left"]) if isinstance(e.get("left"), int | float) else None for e in log]
    pairs = match_arrivals(sends, arrivals, finished, left)
    to_arrival = [arrivals[j] - sends[i] for i, j in pairs]
    to_finished = [
        started + float(attempts[i]["finished"]) - float(log[j]["left"])
        for i, j in pairs
        if isinstance(log[j].get("left"), int | float)
    ]
    return ClockGaps(to_arrival, to_finished, len(attempts) - len(pairs))


# -- theory, in words ----------------------------------------------------------


def _is_writeup_scenario(scenario: dict[str, Any]) -> bool:
    """The write-up's settings, for which theory's fixed figures hold."""
    return (
        int(scenario.get("n", 0)) == 10
        and str(scenario.get("rate", "")).replace(" ", "") in {"2/second", "2/1second"}
        and str(scenario.get("latency", "")) == "2-5"
        and scenario.get("strategy", "fixed-window") == "fixed-window"
        and scenario.get("retry") == "exponential"
    )


def _mean_latency(scenario: dict[str, Any]) -> float | None:
    try:
        return parse_latency(str(scenario.get("latency", ""))).mean
    except SettingsError:
        return None


def _sleeps(scenario: dict[str, Any]) -> list[float]:
    """The retry sleeps (scenario seconds) of a client with the default settings."""
    config = ClientConfig()
    policy = scenario.get("retry", config.retry)
    if policy not in {"exponential", "writeup"}:  # "none" never sleeps
        return []
    return [retry_sleep(policy, k, config.first_sleep) for k in range(1, config.attempts)]


def theory_text(client: str, scenario: dict[str, Any]) -> tuple[str, str]:
    """(what the client does, what theory predicts) as plain sentences."""
    config = ClientConfig()
    n = int(scenario.get("n", config.n))
    writeup = _is_writeup_scenario(scenario)
    limit = limit_per_second(scenario)
    limit_words = f"{limit:g} requests/s" if limit is not None else "the limit"
    if client == "thread_pool":
        workers = int(scenario.get("workers", config.workers))
        does = (
            f"Sends the batch through a pool of {workers} threads with `requests`: at most "
            f"{workers} requests are in flight, and a new one goes out only when one returns."
        )
        latency = _mean_latency(scenario)
        if latency is None:
            return does, "Theory: Little's law, throughput = threads in flight / mean latency."
        rate = workers / latency
        predicts = (
            f"Theory (Little's law): {workers} in flight / {latency:g} s mean latency ≈ "
            f"{rate:.2f} requests/s"
            + (
                f", well under the limit of {limit_words}, so {n} requests take about "
                f"{n / rate:.1f} s, a little more since the slower of the {workers} queues "
                "ends the batch"
                if limit is None or rate < limit
                else f", more than the limit of {limit_words}, so expect 429s"
            )
            + (" (about 17.5–18.5 s here)." if writeup else ".")
        )
        return does, predicts
    if client == "naive_gather":
        sleeps = _sleeps(scenario)
        does = (
            "Starts every request at once with `asyncio.gather` and `aiohttp`, with no "
            "limiter; a 429 is retried after a sleep"
            + (f" of {', '.join(f'{s:g}' for s in sleeps)} s" if sleeps else "")
            + "."
        )
        if writeup:
            predicts = (
                "Theory: the first window lets 2 of the 10 through and rejects the other 8 "
                "at once; each retry wave arrives together and again only 2 get through, so "
                "8 + 6 + 4 + 2 = 20 rejections, and the last two start after "
                "3 + 6 + 12 + 24 = 45 s: about 49 s in all."
            )
        else:
            predicts = (
                "Theory: whatever arrives in one window beyond the limit is rejected, and "
                "every retry wave repeats that, so the retry sleeps, not the limit, set the "
                "makespan."
            )
        return does, predicts
    if client == "token_bucket":
        does = (
            f"Sends with `asyncio` and `aiohttp`, but each request first takes a whole token "
            f"from a bucket that starts with {config.initial_tokens} tokens and refills at "
            f"{config.rate:g} tokens/s (capacity {config.capacity})."
        )
        gap = 1 / config.rate
        if writeup:
            predicts = (
                "Theory: the first send goes out at 0.5 s and one more every 0.5 s, never more "
                "than 2 in a window, so no 429; the last leaves at 5 s and the batch ends "
                "when the slowest of the last few answers, about 9.1 s."
            )
        else:
            predicts = (
                f"Theory: one send every {gap:g} s from {gap:g} s, so the last leaves at about "
                f"{n * gap:g} s and the batch ends one latency later; 429s only if "
                f"{config.rate:g} tokens/s is more than the server's {limit_words}."
            )
        return does, predicts
    if client in MATRIX_TEXTS:
        return MATRIX_TEXTS[client](scenario, writeup)
    return (
        f"`{client}` has no description here yet.",
        "Theory: see the makespan plot for theory's prediction, when the summary has one.",
    )


def _exact_schedule(sends: Sequence[float]) -> float:
    """Expected makespan (s) of a fixed send schedule under the write-up's 2-5 s latencies."""
    return exact_makespan(list(sends), 2, 5).mean


def _threads_bucket(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = (
        "Sends with a thread per request and `requests`; every attempt first takes a whole "
        "token from a thread-safe copy of the write-up's bucket (same arithmetic, a "
        "`threading.Lock`). One thread per request, so that the bucket and not a pool of 2 "
        "is the limit."
    )
    predicts = (
        "Theory: the same schedule as `token_bucket`, one send every 0.5 s from 0.5 s, "
        + ("about 9.1 s and no 429: " if writeup else "")
        + "threads or asyncio make no difference once the policy is the same."
    )
    return does, predicts


def _async_semaphore(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    workers = ClientConfig().workers
    latency = _mean_latency(scenario) or 3.5
    does = (
        f"Sends with `asyncio` and `aiohttp`, at most {workers} attempts in flight "
        f"(an `asyncio.Semaphore({workers})` held per attempt), like the pool's {workers} threads."
    )
    predicts = (
        f"Theory (Little's law): {workers} / {latency:g} s ≈ {workers / latency:.2f} requests/s, "
        "the thread pool's figure"
        + (", about 18.5 s" if writeup else "")
        + ": the cap on requests in flight, not threads, made the pool slow."
    )
    return does, predicts


def _threads_unbounded(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = "Sends with a thread per request and `requests`, all at once, with no limiter."
    predicts = (
        "Theory: the same as `naive_gather`: the first window takes 2 and rejects the rest, "
        "every retry wave collides again" + (", 20 rejections and about 49 s." if writeup else ".")
    )
    return does, predicts


def _aiolimiter(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = (
        "Sends with `asyncio` and `aiohttp`, acquiring aiolimiter's `AsyncLimiter(2, 1)` (a "
        "leaky bucket) before every attempt. It starts with room for 2, so the first 2 go "
        "at t = 0 and then one every 0.5 s."
    )
    predicts = (
        "Theory: the server's fixed window opens at the first hit, so the burst of 2 fills "
        "it and the third send (0.5 s) is rejected: at least one 429 in every run, and its "
        "retry waits 3 s and then queues for the limiter again. Later sends fall exactly "
        "one window apart, on the instant the server's window turns over, so each later "
        "edge can cost another 429"
        + (
            f"; without them the sends 0, 0, 1, 1.5, …, 4.5 s would take "
            f"{_exact_schedule([0, 0, *(0.5 * k for k in range(2, 10))]):.2f} s."
            if writeup
            else "."
        )
    )
    return does, predicts


def _aiometer(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = (
        "Starts each request's job with `aiometer.run_all(max_per_second=2)`: one start "
        "every 0.5 s from t = 0, no burst; retries inside a job are not metered."
    )
    predicts = (
        "Theory: at most 2 sends in any window anchored at a send, and a late timer delays "
        "every later start too, which tends to keep the sends off the window's edges "
        "(the more so at full scale, where a millisecond is a smaller share of a window)"
        + (
            f"; sends at 0, 0.5, …, 4.5 s take {_exact_schedule([0.5 * k for k in range(10)]):.2f} "
            "s, half a second better than the write-up's bucket, which waits for its first "
            "token."
            if writeup
            else "."
        )
    )
    return does, predicts


def _adaptive(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = (
        "Sends everything at once with `asyncio` and `aiohttp`; a 429 shuts a gate shared by "
        "every request for as long as its `X-RateLimit-Reset-After` header says (else "
        "`Retry-After`), plus 0.01 s, and every retry waits at the gate instead of sleeping "
        "3, 6, 12, 24 s."
    )
    predicts = (
        "Theory: each window admits 2 and rejects the rest of the queue, as for "
        "`naive_gather`"
        + (
            " (8 + 6 + 4 + 2 = 20 × 429), but the waves go one window apart, so the last pair "
            f"leaves at about 4 s and the batch takes about the bound, "
            f"{bound().mean:.2f} s: here a 429 costs "
            "nothing, the fixed backoff schedule did."
            if writeup
            else ", but one window apart instead of a backoff schedule apart."
        )
    )
    return does, predicts


def _sliding_window(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    counter = scenario.get("strategy") == "sliding-window-counter"
    does = (
        "Sends with `asyncio` and `aiohttp` as soon as a sliding log allows: at most 2 sends "
        "in any trailing window, widened by a 20 ms margin for the trip from the client's "
        "send to the server's decision (measured from the server's log: p99 about 7 ms)"
        + (
            "; told that the server counts with a sliding-window counter, it also keeps "
            "that counter's rule on the server's clock."
            if counter
            else "."
        )
    )
    predicts = (
        "Theory: the best schedule that keeps the limit, 2 sends at t = 0, 1, 2, 3, 4 s, "
        "late only by the margins"
        + (
            f": about {bound().mean:.2f} s, and no 429 under any of the three server strategies."
            if writeup
            else ", and no 429."
        )
    )
    return does, predicts


def _shared_window(scenario: dict[str, Any], writeup: bool) -> tuple[str, str]:
    does = (
        "The `sliding_window` idea with the log kept in Redis (an atomic Lua script), so "
        "that any number of client processes share one limit."
    )
    predicts = (
        "Theory: as one `sliding_window` client, whatever the number of processes: 2 sends "
        "per window from t = 0 and no 429."
    )
    return does, predicts


MATRIX_TEXTS: dict[str, Callable[[dict[str, Any], bool], tuple[str, str]]] = {
    "sliding_window": _sliding_window,
    "shared_window": _shared_window,
    "threads_bucket": _threads_bucket,
    "async_semaphore": _async_semaphore,
    "threads_unbounded": _threads_unbounded,
    "aiolimiter": _aiolimiter,
    "aiometer": _aiometer,
    "adaptive": _adaptive,
}


def client_facts(client: str, runs: Sequence[dict[str, Any]]) -> str:
    """One more measured sentence for the clients whose point is one number."""
    if client == "aiolimiter":
        third = 0
        for run in runs:
            log = sorted(run["server_log"], key=lambda e: float(e["arrival"]))
            if len(log) >= 3 and log[2].get("accepted") is False:
                third += 1
        return (
            f" The third hit was rejected in {third} of {len(runs)} runs; the other 429s "
            "fell on later window edges."
        )
    if client in {"async_semaphore", "thread_pool"}:
        peak = max(_max_in_flight(run["server_log"]) for run in runs)
        return f" The server never had more than {peak} of its requests in flight."
    if client == "adaptive":
        waits = [
            float(a["limiter_wait"]) / float(run["time_scale"])
            for run in runs
            for a in run["attempts"]
            if int(a["attempt"]) > 0
        ]
        if waits:
            return (
                f" Retries waited at the gate {statistics.median(waits):.2f} s (median) "
                "instead of a 3 s sleep."
            )
    return ""


def _max_in_flight(log: Sequence[dict[str, Any]]) -> int:
    events = [(float(e["arrival"]), 1) for e in log if isinstance(e.get("left"), int | float)]
    events += [(float(e["left"]), -1) for e in log if isinstance(e.get("left"), int | float)]
    in_flight = peak = 0
    for _, step in sorted(events):
        in_flight += step
        peak = max(peak, in_flight)
    return peak


# -- measured, in words ----------------------------------------------------------


def _measured_sleeps(runs: Sequence[dict[str, Any]]) -> list[float]:
    """Median retry sleep (scenario seconds) before the 2nd, 3rd, ... attempt:
    from one attempt's finish to the next attempt of the same request."""
    gaps: dict[int, list[float]] = {}
    for run in runs:
        scale = float(run["time_scale"])
        attempts = sorted(run["attempts"], key=lambda a: (a["request"], a["attempt"]))
        for before, after in itertools.pairwise(attempts):
            if before["request"] == after["request"]:
                gaps.setdefault(int(after["attempt"]), []).append(
                    (float(after["queued"]) - float(before["finished"])) / scale
                )
    return [statistics.median(gaps[k]) for k in sorted(gaps)]


def measured_text(stats: ClientStats, runs: Sequence[dict[str, Any]]) -> str:
    """What the runs showed, every number from the records."""
    parts = [
        f"Measured: {stats.mean:.2f} s ± {stats.stddev:.2f} s over {stats.runs} "
        f"run{'s' if stats.runs != 1 else ''} ({stats.min:.2f} … {stats.max:.2f} s), "
        f"{stats.mean_rejections:.1f} × 429 per run in the server's log"
    ]
    if stats.client_rejections != stats.rejections:
        parts.append(
            f" (the client counted {statistics.fmean(stats.client_rejections):.1f}: "
            "the two should agree)"
        )
    parts.append(".")
    run = representative_run(runs)
    scale = float(run["time_scale"])
    sends = sorted(float(a["sent"]) / scale for a in run["attempts"])
    if len(sends) > 1:
        steps = [b - a for a, b in itertools.pairwise(sends)]
        parts.append(
            f" In its median run (run {int(run['run']) + 1}) the first request went out at "
            f"{sends[0]:.2f} s and the last at {sends[-1]:.2f} s"
            + (
                f", one every {statistics.median(steps):.2f} s (median)"
                if stats.client in PACED_CLIENTS
                else ""
            )
            + "."
        )
    sleeps = _measured_sleeps(runs)
    if sleeps:
        parts.append(
            " Retry sleeps (median before each further attempt): "
            + ", ".join(f"{s:.1f}" for s in sleeps)
            + " s."
        )
    parts.append(client_facts(stats.client, runs))
    unfinished = sum(stats.incomplete)
    if unfinished:
        parts.append(f" {unfinished} requests never succeeded across the runs.")
    return "".join(parts)


# -- the report ----------------------------------------------------------------


def _bound_of(result: dict[str, Any], summary: dict[str, Any] | None) -> float | None:
    for value in (result.get("bound"), (summary or {}).get("bound")):
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


def _scenario_table(scenario: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[str]:
    settings = runs[0].get("server_settings") or {}
    rate = str(scenario.get("rate", "?"))
    try:
        parsed = parse_limit(rate)
        rate_words = f"{parsed.amount} requests per {parsed.window:g} s"
    except SettingsError:
        rate_words = rate
    rows = [
        ("requests per batch", str(scenario.get("n", "?"))),
        ("server limit", f"{rate_words} ({scenario.get('strategy', '?')})"),
        ("server latency", f"{scenario.get('latency', '?')} s, whole seconds, accepted only"),
        ("retry schedule", str(scenario.get("retry", "?"))),
        ("runs per client", str(scenario.get("runs", "?"))),
        ("clients", ", ".join(str(c) for c in scenario.get("clients", []))),
        (
            "time scale",
            f"{scenario.get('time_scale', '?')} (every figure below is in scenario seconds)",
        ),
        ("seed", f"{scenario.get('seed', '?')} (run i uses seed + i)"),
    ]
    if settings.get("error_rate"):
        rows.append(("server error rate", str(settings["error_rate"])))
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return lines


def _summary_table(stats: dict[str, ClientStats], summary: dict[str, Any] | None) -> list[str]:
    results = {
        str(r.get("command")): r for r in (summary or {}).get("results", []) if isinstance(r, dict)
    }
    theory = any(
        "predicted_mean" in r or _bound_of(r, summary) is not None for r in results.values()
    )
    head = "| client | mean ± σ (s) | range (s) | runs | 429s per run |"
    rule = "|---|---|---|---|---|"
    if theory:
        head += " predicted mean (s) | measured ÷ bound |"
        rule += "---|---|"
    lines = [head, rule]
    for s in stats.values():
        runs = f"{s.runs}" + (f" (+{s.failed_runs} failed)" if s.failed_runs else "")
        row = (
            f"| {s.client} | {s.mean:.2f} ± {s.stddev:.2f} | {s.min:.2f} … {s.max:.2f} "
            f"| {runs} | {s.mean_rejections:.1f} |"
        )
        if theory:
            result = results.get(s.client, {})
            predicted = result.get("predicted_mean")
            spread = result.get("predicted_stddev")
            bound = _bound_of(result, summary)
            row += (
                (f" {predicted:.2f}" if isinstance(predicted, int | float) else " —")
                + (f" ± {spread:.2f}" if isinstance(spread, int | float) else "")
                + " |"
                + (f" {s.mean / bound:.2f} |" if bound else " — |")
            )
        lines.append(row)
    if len(stats) > 1:
        fastest, rows = speedups(stats)
        lines.append("")
        lines.append(
            f"`{fastest}` was fastest: "
            + "; ".join(
                f"{ratio:.2f} ± {err:.2f} times faster than `{c}`" for c, ratio, err in rows
            )
            + "."
        )
    return lines


def _gap_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| client | attempts matched | send → arrival p50 / p99 (ms) | "
        "server done → client done p50 / p99 (ms) | unmatched |",
        "|---|---|---|---|---|",
    ]
    for client, runs in groups.items():
        to_arrival: list[float] = []
        to_finished: list[float] = []
        unmatched = 0
        for run in runs:
            gaps = clock_gaps(run)
            to_arrival += gaps.send_to_arrival
            to_finished += gaps.left_to_finished
            unmatched += gaps.unmatched

        def pair(values: list[float]) -> str:
            if not values:
                return "—"
            return f"{percentile(values, 50) * 1000:.1f} / {percentile(values, 99) * 1000:.1f}"

        lines.append(
            f"| {client} | {len(to_arrival)} | {pair(to_arrival)} | {pair(to_finished)} "
            f"| {unmatched} |"
        )
    return lines


def build_report(run_dir: Path) -> str:
    """The text of report.md for `run_dir`; plots must already be drawn."""
    runs = load_runs(run_dir)
    summary = load_summary(run_dir)
    good = ok_runs(runs)
    scenario: dict[str, Any] = (summary or {}).get("scenario") or runs[0].get("scenario", {})
    stats = client_stats(runs)
    groups = by_client(good)
    scale = float(runs[0].get("time_scale", scenario.get("time_scale", 1.0)))
    out: list[str] = ["# ratebench report", ""]
    out.append(
        f"{len(runs)} runs of {len(by_client(runs))} clients, each sending "
        f"{scenario.get('n', '?')} requests to the rate-limited mock server. "
        "Times are makespans from the batch's start to the last response, measured inside "
        "the client's process (hyperfine's also include interpreter start-up), in scenario "
        f"seconds: wall seconds divided by the time scale ({scale:g})."
    )
    out += ["", "## Scenario", "", *_scenario_table(scenario, runs), ""]
    machine = (summary or {}).get("machine")
    if isinstance(machine, dict):
        out.append(
            f"Machine: Python {machine.get('python', '?')} on {machine.get('platform', '?')}, "
            f"{machine.get('cpus', '?')} CPUs."
        )
        out.append("")
    out += ["## Summary", ""]
    if stats:
        out += _summary_table(stats, summary)
    else:
        out.append("No run finished, so there is nothing to summarise.")
    if summary is not None and has_matrix(summary):
        out += [
            "",
            "## The matrix: concurrency model × policy",
            "",
            "Mean makespan and 429s per run (server log). Down a column the concurrency "
            "model changes and the figures hardly do; across a row the policy changes and "
            "they change completely: the policy, not threads or asyncio, sets the speed.",
            "",
            *matrix_markdown(summary),
        ]
    out += [
        "",
        f"![Makespan of every run, per client]({MAKESPAN_FILE})",
        "",
        f"![Completed requests over time, per client]({THROUGHPUT_FILE})",
        "",
        f"![429s per run, per client, from the server's log]({REJECTIONS_FILE})",
        "",
        "## Each client",
        "",
    ]
    for client, client_runs in groups.items():
        does, predicts = theory_text(client, scenario)
        result = next(
            (
                r
                for r in (summary or {}).get("results", [])
                if isinstance(r, dict) and r.get("command") == client
            ),
            {},
        )
        predicted = result.get("predicted_mean")
        if isinstance(predicted, int | float):
            spread = result.get("predicted_stddev")
            rejections = result.get("predicted_rejections")
            predicts += (
                f" Theory's model of this client predicts {predicted:.2f} s"
                + (f" ± {spread:.2f} s" if isinstance(spread, int | float) else "")
                + (
                    f" and {rejections:.1f} × 429 per run"
                    if isinstance(rejections, int | float)
                    else ""
                )
                + "."
            )
        out += [
            f"### {client}",
            "",
            f"![Timeline of {client}'s median run]({client_timeline_file(client)})",
            "",
            f"{does} {predicts} {measured_text(stats[client], client_runs)}",
            "",
        ]
    replayed = replay_runs(runs)
    if replayed:
        out += [
            "## Luck or method",
            "",
            "A handful of runs is a small sample of latency draws. Each run below is "
            "replayed through theory's model of its client on the very latencies the server "
            "drew in that run (`python -m bench replay`), so what remains between measured "
            "and replayed is the client's and the machine's own doing.",
            "",
            "| client | runs | measured mean (s) | replayed mean (s) | worst gap (s) | "
            "best possible on the same draws (s) |",
            "|---|---|---|---|---|---|",
        ]
        for row in replayed:
            out.append(
                f"| {row.client} | {row.runs} | {row.measured:.3f} | "
                + " | ".join(
                    "—" if x is None else f"{x:.3f}"
                    for x in (row.replayed, row.worst_gap, row.best_possible)
                )
                + " |"
            )
        out.append("")
    out += [
        "## All clients on one time axis",
        "",
        f"![Every attempt of each client's median run]({TIMELINE_FILE})",
        "",
        "## Failed runs",
        "",
    ]
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        out += [
            f"- run {int(r['run']) + 1} of `{r['client']}`: {r.get('reason') or 'no reason given'}"
            for r in failed
        ]
        out.append("")
        out.append("Failed runs are left out of every figure above.")
    else:
        out.append("None: every run finished.")
    out += [
        "",
        "## How far to trust a timeline",
        "",
        "The client stamps when it sent and when it got the answer; the server stamps when "
        "the request arrived and when it handed the response back, on the same monotonic "
        "clock. Each attempt is paired with the server log entry nearest it in both send and "
        "finish (send order alone can mislead: two threads may reach the server in the "
        "other order than they stamped their sends). The gaps "
        "below are wall milliseconds (divide by the time scale, "
        f"{scale:g}, for scenario milliseconds): events in the timeline closer together "
        "than this cannot be told apart.",
        "",
        *_gap_table(groups),
        "",
    ]
    if any(server_rejections(r) != int(r.get("rejections", 0)) for r in good):
        out.append(
            "Note: in some runs the client's own 429 count differs from the server's log; "
            "the figures above use the server's."
        )
        out.append("")
    return "\n".join(out)


def write_report(run_dir: Path) -> Path:
    """Draw every plot of `run_dir` and write its `report.md`; returns the report's path."""
    draw_all(run_dir)
    path = run_dir / REPORT_FILE
    path.write_text(build_report(run_dir), encoding="utf-8")
    return path
