"""The teaching matrix: concurrency model × limiting policy, from summary.json.

Rows are the concurrency model (threads + requests, asyncio + aiohttp),
columns the policy (at most N in flight, no limit, token bucket); each cell
is one client, shown as its mean makespan and 429s per run. Read across a
row to see what the policy does, down a column to see that the concurrency
model hardly matters. Clients outside the six cells are listed below it.
"""

from __future__ import annotations

from typing import Any

POLICIES = ("at most N in flight", "no limit", "token bucket")
MODELS = ("threads + requests", "asyncio + aiohttp")
CELLS: dict[tuple[str, str], str] = {
    ("threads + requests", "at most N in flight"): "thread_pool",
    ("threads + requests", "no limit"): "threads_unbounded",
    ("threads + requests", "token bucket"): "threads_bucket",
    ("asyncio + aiohttp", "at most N in flight"): "async_semaphore",
    ("asyncio + aiohttp", "no limit"): "naive_gather",
    ("asyncio + aiohttp", "token bucket"): "token_bucket",
}


def _results(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(r["command"]): r
        for r in summary.get("results", [])
        if isinstance(r, dict) and "command" in r
    }


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "not run"
    rejections = result.get("rejections") or []
    per_run = sum(rejections) / len(rejections) if rejections else 0.0
    return f"{result['mean']:.2f} s, {per_run:.1f} × 429"


def matrix_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Header row, then one row per concurrency model (cells as text)."""
    results = _results(summary)
    rows = [["", *POLICIES]]
    for model in MODELS:
        cells = []
        for policy in POLICIES:
            client = CELLS[(model, policy)]
            cells.append(f"{client}: {_cell(results.get(client))}")
        rows.append([model, *cells])
    return rows


def others(summary: dict[str, Any]) -> list[str]:
    """The measured clients outside the six cells, one line each."""
    in_matrix = set(CELLS.values())
    return [
        f"{client}: {_cell(result)}"
        for client, result in _results(summary).items()
        if client not in in_matrix
    ]


def has_matrix(summary: dict[str, Any]) -> bool:
    """True if at least two of the six cells were run."""
    return len(set(CELLS.values()) & set(_results(summary))) >= 2


def format_matrix(summary: dict[str, Any]) -> str:
    """The table as aligned text, for the terminal."""
    rows = matrix_rows(summary)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["Matrix (mean makespan in scenario seconds, 429s per run from the server's log)"]
    for number, row in enumerate(rows):
        lines.append("  " + " │ ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  " + "─┼─".join("─" * w for w in widths))
    rest = others(summary)
    if rest:
        lines.append("  also: " + "; ".join(rest))
    return "\n".join(lines)


def matrix_markdown(summary: dict[str, Any]) -> list[str]:
    """The table as markdown lines, for report.md."""
    rows = matrix_rows(summary)
    lines = [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    for row in rows[1:]:
        lines.append(
            "| "
            + " | ".join(
                [f"**{row[0]}**", *(f"`{c.split(':')[0]}`:{c.split(':', 1)[1]}" for c in row[1:])]
            )
            + " |"
        )
    rest = others(summary)
    if rest:
        lines += [
            "",
            "Also measured: "
            + "; ".join(f"`{r.split(':')[0]}`:{r.split(':', 1)[1]}" for r in rest)
            + ".",
        ]
    return lines
