"""What every LLM endpoint's report shares: one section per client, drawn the same way,
told in each endpoint's own words of its limits (`bench.endpoints.{openai,anthropic,
gemini}.report`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.drawing.style import client_timeline_file
from bench.records.commands import spec_for
from bench.records.results import Expected, RunRecord, TheoryRecord
from bench.records.stats import ClientStats, GaveUp, by_client, gave_up, gave_up_stats
from bench.theory.explain import measured_text
from clients.spec import ClientSpec

#: What a client's runs show of the endpoint's limits: from its spec, the runs drawn
#: (answered, or given up on requests) and what theory expected of it.
Facts = Callable[[ClientSpec, Sequence[RunRecord], Expected | None], str]
#: How a client that gave up on requests lost them: from its runs drawn and their count.
Lost = Callable[[Sequence[RunRecord], GaveUp], str]


def lost_words(g: GaveUp) -> str:
    """What the server's log says of a client's runs that gave up on requests."""
    return (
        f"Measured: it gave up on {g.mean_lost:.1f} of {g.n} requests per run "
        f"({', '.join(str(k) for k in g.lost)} in its {g.runs} runs), its batch ending at "
        f"{g.mean_ended:.2f} s, {g.mean_rejections:.1f} × 429 per run in the server's log."
    )


def client_sections(
    runs: Sequence[RunRecord],
    stats: dict[str, ClientStats],
    theory: TheoryRecord | None,
    theory_words: Callable[[Expected | None], str],
    facts: Facts,
    lost: Lost = lambda _, g: lost_words(g),
) -> list[str]:
    """One section per client, those that gave up included: its timeline, its spec,
    what theory said (`theory_words`), what was measured (`lost`: how it gave up on
    requests, by default `lost_words`) and what it shows (`facts`)."""
    lossy = gave_up_stats(runs)
    out: list[str] = []
    for client, mine in by_client(runs).items():
        if client not in stats and client not in lossy:
            continue
        spec = spec_for(client)
        expected = theory.for_client(client) if theory is not None else None
        drawn = [r for r in mine if r.ok or gave_up(r)]
        measured = (
            measured_text(stats[client], [r for r in mine if r.ok])
            if client in stats
            else lost(drawn, lossy[client])
        )
        out += [f"### {client}", ""]
        if client in stats:
            out += [f"![Timeline of {client}'s median run]({client_timeline_file(client)})", ""]
        out += [
            f"*{spec.summary}* ({spec.concurrency}; policy: {spec.policy}).",
            "",
            f"{spec.explain} {theory_words(expected)} {measured}{facts(spec, drawn, expected)}",
            "",
        ]
    return out
