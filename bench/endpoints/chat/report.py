"""`/chat` in the report: its figure, and one section per client that finished a run."""

from __future__ import annotations

from bench.drawing.style import client_timeline_file
from bench.endpoints.chat.plots import WINDOWS_FILE
from bench.records.commands import command_paragraph, spec_for
from bench.records.results import RunRecord, TheoryRecord
from bench.records.stats import ClientStats
from bench.theory.explain import Context, edge_text, measured_text, theory_text


def figure_lines() -> list[str]:
    return [
        "Figures that read the same at any batch size: what the server's limiter "
        "decided in each of its windows, the requests on the wire over time, and how "
        "long answered attempts took.",
        "",
        f"![Sends per window against the limit, from the server's log]({WINDOWS_FILE})",
        "",
    ]


def client_sections(
    groups: dict[str, list[RunRecord]], stats: dict[str, ClientStats], theory: TheoryRecord | None
) -> list[str]:
    """One section per client that finished a run: what it does, theory, measured."""
    out: list[str] = []
    for client, client_runs in groups.items():
        first = client_runs[0]
        ctx = Context(
            spec=spec_for(client, first.command.command if first.command else None),
            scenario=first.scenario,
            config=first.config,
            expected=theory.for_client(client) if theory is not None else None,
        )
        out += [
            f"### {client}",
            "",
            f"![Timeline of {client}'s median run]({client_timeline_file(client)})",
            "",
        ]
        if first.command is not None:  # a shell command: no policy, no model to explain
            bound = ctx.expected.bound if ctx.expected is not None else None
            measured = measured_text(stats[client], client_runs)
            out += [f"{command_paragraph(client_runs, bound)} {measured}", ""]
            continue
        out += [
            f"*{ctx.spec.summary}* ({ctx.spec.concurrency}; policy: {ctx.spec.policy}).",
            "",
            f"{ctx.spec.explain} {theory_text(ctx)} {measured_text(stats[client], client_runs)}"
            + edge_text(ctx, stats[client]),
            "",
        ]
    return out
