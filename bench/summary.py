"""The hyperfine-style summary: printed, and saved as hyperfine's JSON layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.predict import theory_fields
from bench.results import SUMMARY_FILE, SUMMARY_SCHEMA, machine, write_json
from bench.stats import ClientStats, client_stats, speedups

TIME_NOTE = (
    "Times are makespans from the batch's start to the last response, measured inside the "
    "client's process (hyperfine's also include interpreter start-up), in scenario seconds "
    "(wall seconds / time scale)."
)


def build_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json: hyperfine's `--export-json` layout (`results[]`) plus ours."""
    stats = client_stats(runs)
    scenario = runs[0]["scenario"]
    failed = [
        {"client": r["client"], "run": r["run"], "reason": r["reason"]}
        for r in runs
        if r["status"] != "ok"
    ]
    results = []
    for client, s in stats.items():
        entry = s.as_hyperfine()
        entry.update(theory_fields(scenario, client))
        entry["measured_over_bound"] = s.mean / entry["bound"]
        results.append(entry)
    return {
        "schema": SUMMARY_SCHEMA,
        "time_unit": "scenario seconds",
        "note": TIME_NOTE,
        "scenario": scenario,
        "machine": machine(),
        "results": results,
        "failed_runs": failed,
    }


def write_summary(run_dir: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary = build_summary(runs)
    write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def stats_from_summary(summary: dict[str, Any]) -> dict[str, ClientStats]:
    return {
        r["command"]: ClientStats(
            client=r["command"],
            times=r["times"],
            rejections=r["rejections"],
            client_rejections=r["client_rejections"],
            incomplete=r["incomplete_requests"],
            failed_runs=r["failed_runs"],
            extra={k: v for k, v in r.items() if k.startswith(("predicted", "bound"))},
        )
        for r in summary["results"]
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The text hyperfine would print, with 429s and theory beside each client."""
    stats = stats_from_summary(summary)
    lines: list[str] = []
    for number, s in enumerate(stats.values(), start=1):
        lines.append(f"Benchmark {number}: {s.client}")
        lines.append(
            f"  Time (mean ± σ):   {s.mean:8.3f} s ± {s.stddev:6.3f} s    "
            f"[429s per run: {s.mean_rejections:.1f} (server log)]"
        )
        lines.append(
            f"  Range (min … max): {s.min:8.3f} s … {s.max:6.3f} s    {s.runs} runs"
            + (f", {s.failed_runs} failed" if s.failed_runs else "")
        )
        unfinished = sum(s.incomplete)
        if unfinished:
            lines.append(f"  Warning: {unfinished} requests never succeeded across the runs")
        predicted = s.extra.get("predicted_mean")
        bound = s.extra.get("bound")
        if bound:
            told = (
                f"{predicted:8.3f} s ± {s.extra.get('predicted_stddev', 0.0):6.3f} s predicted, "
                f"{s.extra.get('predicted_rejections', 0.0):.1f} × 429; "
                if predicted is not None
                else ""
            )
            lines.append(
                f"  Theory:            {told}"
                f"measured {s.mean / bound:.2f} × the best possible ({bound:.2f} s)"
            )
        lines.append("")
    if len(stats) > 1:
        fastest, rows = speedups(stats)
        lines.append("Summary")
        lines.append(f"  {fastest} ran")
        for client, ratio, err in rows:
            lines.append(f"  {ratio:6.2f} ± {err:.2f} times faster than {client}")
        lines.append("")
    for fail in summary.get("failed_runs", []):
        lines.append(f"Failed: run {fail['run']} of {fail['client']}: {fail['reason']}")
    lines.append(TIME_NOTE)
    return "\n".join(lines)
