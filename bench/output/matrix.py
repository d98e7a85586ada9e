"""The teaching matrix: concurrency model × limiting policy, from the clients' specs.

Rows are the concurrency model (threads + requests, asyncio + aiohttp),
columns the policy (at most N in flight, no limit, token bucket); each cell
is the client whose spec sits there, shown as its mean makespan and 429s per
run. Read across a row to see what the policy does, down a column to see that
the concurrency model hardly matters. Measured clients outside the six cells
are listed below it.
"""

from __future__ import annotations

from collections.abc import Mapping

import clients
from bench.records.stats import ClientStats

POLICIES = ("at most N in flight", "no limit", "token bucket")
# Each concurrency model with the HTTP library its clients use, as the rows read.
MODELS = {"threads": "threads + requests", "asyncio": "asyncio + aiohttp"}


def cell_client(concurrency: str, policy: str, measured: Mapping[str, ClientStats]) -> str | None:
    """The client whose spec sits in this cell: a measured one if any, else the
    first registered; None if no client has that pair."""
    here = [s.name for s in clients.specs() if (s.concurrency, s.policy) == (concurrency, policy)]
    return next((name for name in here if name in measured), here[0] if here else None)


def _cell(stats: ClientStats | None) -> str:
    if stats is None:
        return "not run"
    return f"{stats.mean:.2f} s, {stats.mean_rejections:.1f} × 429"


def _cells(measured: Mapping[str, ClientStats]) -> dict[tuple[str, str], str | None]:
    return {
        (model, policy): cell_client(model, policy, measured)
        for model in MODELS
        for policy in POLICIES
    }


def matrix_rows(measured: Mapping[str, ClientStats]) -> list[list[str]]:
    """Header row, then one row per concurrency model (cells as text)."""
    cells = _cells(measured)
    rows = [["", *POLICIES]]
    for model, label in MODELS.items():
        row = [label]
        for policy in POLICIES:
            client = cells[(model, policy)]
            row.append("—" if client is None else f"{client}: {_cell(measured.get(client))}")
        rows.append(row)
    return rows


def others(measured: Mapping[str, ClientStats]) -> list[str]:
    """The measured clients outside the six cells, one line each."""
    in_matrix = set(_cells(measured).values())
    return [
        f"{client}: {_cell(stats)}" for client, stats in measured.items() if client not in in_matrix
    ]


def has_matrix(measured: Mapping[str, ClientStats]) -> bool:
    """True if at least two of the six cells were run."""
    return len({c for c in _cells(measured).values() if c is not None} & set(measured)) >= 2


def format_matrix(measured: Mapping[str, ClientStats]) -> str:
    """The table as aligned text, for the terminal."""
    rows = matrix_rows(measured)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["Matrix (mean makespan in scenario seconds, 429s per run from the server's log)"]
    for number, row in enumerate(rows):
        lines.append("  " + " │ ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  " + "─┼─".join("─" * w for w in widths))
    rest = others(measured)
    if rest:
        lines.append("  also: " + "; ".join(rest))
    return "\n".join(lines)


def _code_name(cell: str) -> str:
    """`name: figures` -> `` `name`: figures ``; other cells unchanged."""
    name, sep, figures = cell.partition(":")
    return f"`{name}`:{figures}" if sep else cell


def matrix_markdown(measured: Mapping[str, ClientStats]) -> list[str]:
    """The table as markdown lines, for report.md."""
    rows = matrix_rows(measured)
    lines = [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    for row in rows[1:]:
        lines.append("| " + " | ".join([f"**{row[0]}**", *map(_code_name, row[1:])]) + " |")
    rest = others(measured)
    if rest:
        lines += ["", "Also measured: " + "; ".join(map(_code_name, rest)) + "."]
    return lines
