"""The hyperfine-style summary: printed, and saved as hyperfine's JSON layout.

Built from the run records and the stored theory alone; nothing here runs
theory, so `python -m bench plot` gives the figures the bench gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.records.commands import hyperfine_fields, process_words
from bench.records.results import (
    SUMMARY_FILE,
    SUMMARY_SCHEMA,
    Expected,
    RunRecord,
    TheoryRecord,
    machines,
    write_json,
)
from bench.records.scenario import config_to_dict, format_knobs, knobs_of
from bench.records.stats import (
    ClientStats,
    GaveUp,
    by_client,
    client_stats,
    gave_up_stats,
    speedups,
)

TIME_NOTE = (
    "Times are makespans from the batch's start to the last response, measured inside the "
    "client's process (hyperfine's also include interpreter start-up), in scenario seconds "
    "(wall seconds / time scale)."
)


def hyperfine_entry(
    stats: ClientStats, expected: Expected | None, knobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One entry of hyperfine's `--export-json` `results[]`, plus 429s and theory."""
    entry: dict[str, Any] = {
        "command": stats.client,
        "knobs": knobs or {},
        "mean": stats.mean,
        "stddev": stats.stddev,
        "median": stats.median,
        "min": stats.min,
        "max": stats.max,
        "times": list(stats.times),
        "exit_codes": [0 if i == 0 else 1 for i in stats.incomplete],
        "rejections": list(stats.rejections),
        "client_rejections": list(stats.client_rejections),
        "incomplete_requests": list(stats.incomplete),
        "failed_runs": stats.failed_runs,
    }
    if expected is not None:
        entry.update(bound=expected.bound, bound_stddev=expected.bound_stddev)
        if expected.predicted_mean is not None:
            entry.update(
                predicted_mean=expected.predicted_mean,
                predicted_stddev=expected.predicted_stddev,
                predicted_rejections=expected.predicted_rejections,
            )
        entry["measured_over_bound"] = stats.mean / expected.bound
    return entry


def build_summary(runs: Sequence[RunRecord], theory: TheoryRecord | None) -> dict[str, Any]:
    """summary.json: hyperfine's `--export-json` layout (`results[]`) plus ours."""
    stats = client_stats(runs)
    grouped = by_client(runs)
    found = machines(runs)
    return {
        "schema": SUMMARY_SCHEMA,
        "time_unit": "scenario seconds",
        "note": TIME_NOTE,
        "scenario": runs[0].scenario.to_dict(),
        "client_config": {
            k: v for k, v in config_to_dict(runs[0].config).items() if not k.endswith("url")
        },
        "clients": list(dict.fromkeys(r.client for r in runs)),
        "runs_per_client": max(r.run for r in runs) + 1,
        "machine": found[0].to_dict() if found else None,
        "results": [
            hyperfine_entry(
                s,
                theory.for_client(c) if theory else None,
                knobs_of(c, grouped[c][0].config),
            )
            | hyperfine_fields([r for r in runs if r.client == c])
            for c, s in stats.items()
        ],
        "failed_runs": [
            {"client": r.client, "run": r.run, "reason": r.reason} for r in runs if not r.ok
        ],
        "no_completed_runs": [c for c in dict.fromkeys(r.client for r in runs) if c not in stats],
        # Clients that gave up on requests after their retries: no makespan (the
        # batch was not done), but how many they lost and when they stopped.
        "gave_up": [
            {
                "command": g.client,
                "n": g.n,
                "requests_lost": list(g.lost),
                "ended": list(g.ended),
                "rejections": list(g.rejections),
            }
            for g in gave_up_stats(runs).values()
        ],
    }


def write_summary(
    run_dir: Path, runs: Sequence[RunRecord], theory: TheoryRecord | None
) -> dict[str, Any]:
    summary = build_summary(runs, theory)
    write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def gave_up_words(g: GaveUp) -> str:
    return (
        f"{g.mean_lost:.1f} of {g.n} requests lost per run ({g.runs} runs), gave up "
        f"after its retries; its batch ended at {g.mean_ended:.3f} s; "
        f"429s per run: {g.mean_rejections:.1f} (server log)"
    )


def format_summary(runs: Sequence[RunRecord], theory: TheoryRecord | None) -> str:
    """The text hyperfine would print, with 429s and theory beside each client."""
    stats = client_stats(runs)
    lossy = gave_up_stats(runs)
    lines: list[str] = []
    for number, (client, mine) in enumerate(by_client(runs).items(), start=1):
        lines.append(f"Benchmark {number}: {client}")
        # A client's knobs are the same in every run of a bench.
        own = knobs_of(client, mine[0].config, common=False)
        if own:
            lines.append(f"  Knobs:             {format_knobs(own)}")
        if client not in stats:
            # Every run failed: there is no makespan to print, only that, and
            # what a client that gave up on requests did instead.
            lines.append(f"  no completed runs ({len(mine)} failed; reasons below)")
            g = lossy.get(client)
            if g is not None:
                lines.append(f"  Gave up:           {gave_up_words(g)}")
            e = theory.for_client(client) if theory else None
            if e is not None and e.predicted_mean is not None:
                lines.append(
                    f"  Theory:            predicts {e.predicted_failed or 0.0:.1f} lost, "
                    f"the batch ending at {e.predicted_mean:.3f} s "
                    f"± {e.predicted_stddev or 0.0:.3f} s, "
                    f"{e.predicted_rejections or 0.0:.1f} × 429"
                )
            lines.append("")
            continue
        s = stats[client]
        lines.append(
            f"  Time (mean ± σ):   {s.mean:8.3f} s ± {s.stddev:6.3f} s    "
            f"[429s per run: {s.mean_rejections:.1f} (server log)]"
        )
        process = process_words([r for r in runs if r.client == s.client])
        if process:
            lines.append(f"  Process:           {process}, start-up included")
        lines.append(
            f"  Range (min … max): {s.min:8.3f} s … {s.max:6.3f} s    {s.runs} runs"
            + (f", {s.failed_runs} failed" if s.failed_runs else "")
        )
        unfinished = sum(s.incomplete)
        if unfinished:
            lines.append(
                f"  Requests lost:     {unfinished} in {s.runs} runs (never succeeded: "
                "retries exhausted or the deadline)"
            )
        e = theory.for_client(s.client) if theory else None
        if e is not None and e.bound:
            told = (
                f"{e.predicted_mean:8.3f} s ± {e.predicted_stddev or 0.0:6.3f} s predicted, "
                f"{e.predicted_rejections or 0.0:.1f} × 429; "
                if e.predicted_mean is not None
                else ""
            )
            lines.append(
                f"  Theory:            {told}"
                f"measured {s.mean / e.bound:.2f} × the best possible ({e.bound:.2f} s)"
            )
        lines.append("")
    if len(stats) > 1:
        fastest, rows = speedups(stats)
        lines.append("Summary")
        lines.append(f"  {fastest} ran")
        for client, ratio, err in rows:
            lines.append(f"  {ratio:6.2f} ± {err:.2f} times faster than {client}")
        lines.append("")
    unranked = [g for c, g in lossy.items() if c not in stats]
    if stats and unranked:
        # Ending early by giving up is not being fast: these are not ranked.
        lines.append("Not ranked (gave up on requests, so no batch was done):")
        lines += [f"  {g.client}: {gave_up_words(g)}" for g in unranked]
        lines.append("")
    for r in runs:
        if not r.ok:
            lines.append(f"Failed: run {r.run} of {r.client}: {r.reason}")
    lines.append(TIME_NOTE)
    if any(r.command is not None for r in runs):
        lines.append(
            "A command's makespan runs from its first request's arrival at the server to the "
            "last response (the server's log); its Process line is the whole process in real "
            "seconds, start-up included, as hyperfine measures."
        )
    return "\n".join(lines)
