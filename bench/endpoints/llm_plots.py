"""What every LLM endpoint's figures share: the run drawn for each client and its
title (`bench.endpoints.{openai,anthropic,gemini}.plots`)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.records.results import RunRecord
from bench.records.stats import by_client, gave_up, representative_run


def drawable(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """Each client's representative run among those that finished or gave up."""
    kept = [r for r in runs if r.ok or gave_up(r)]
    return {client: representative_run(mine) for client, mine in by_client(kept).items()}


def run_title(client: str, run: RunRecord) -> str:
    """A drawn run's title: the client, which run, its 429s and what it gave up on."""
    lost = gave_up(run)
    tail = f", gave up on {lost}" if lost else ""
    return f"{client}: run {run.run + 1}, {run.rejections} × 429{tail}"
