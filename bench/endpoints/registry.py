"""Every API the bench can run against, by name, and what the bench asks of a scenario's.

A new API is one module under `bench/endpoints/` whose object follows
`bench.endpoints.base.Endpoint`, added to `ENDPOINTS` here (and one under
`mock_server/endpoints/` for the server's side).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from bench.endpoints.base import Endpoint
from bench.endpoints.chat.endpoint import ENDPOINT as CHAT
from bench.endpoints.openai.endpoint import ENDPOINT as OPENAI
from bench.records.results import RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import KnobValue, Overrides, Scenario
from bench.theory.replay import replay_runs
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig
from mock_server.vocabulary import UsageError

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (CHAT, OPENAI)}
#: `/chat`, the write-up's endpoint: the bench's default.
DEFAULT_API = CHAT.name


def endpoint(name: str) -> Endpoint:
    return ENDPOINTS[name]


def endpoint_for(scenario: Scenario) -> Endpoint:
    return ENDPOINTS[scenario.api]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--api` and every endpoint's own flags."""
    parser.add_argument(
        "--api",
        choices=tuple(ENDPOINTS),
        default=DEFAULT_API,
        help="the endpoint: the write-up's GET /chat, or openai (POST /v1/chat/completions, "
        "limited in requests and tokens per minute); runs the clients that speak it "
        "(default: chat)",
    )
    for each in ENDPOINTS.values():
        each.add_arguments(parser)


def scenario_from_args(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario on `--api`'s endpoint with its flags; another endpoint's flag is
    one line saying which `--api` it needs."""
    for name, each in ENDPOINTS.items():
        given = each.given_flags(args)
        if name != args.api and given:
            raise UsageError(f"{given[0]} is for the LLM endpoint: add --api {name}")
    return ENDPOINTS[args.api].scenario_from_args(scenario, args)


def server_kwargs(scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    """Keyword arguments of `mock_server.process.MockServer` for this scenario."""
    return scenario.server_kwargs_with(endpoint_for(scenario).server_args(scenario), seed)


def client_config(
    scenario: Scenario, url: str, overrides: Mapping[str, KnobValue] | Overrides = ()
) -> ClientConfig:
    """The knobs every client gets in `scenario` (`Scenario.config_with`), with what its
    endpoint tells them, then `overrides`."""
    return scenario.config_with(url, endpoint_for(scenario).client_knobs(scenario), overrides)


def theory_for_runs(runs: Sequence[RunRecord], sim_runs: int | None = None) -> TheoryRecord:
    """Theory for every client (and sweep value) of `runs`, and every run replayed.

    `sim_runs` virtual runs per prediction; None: `sim_runs_for(n)` for each
    batch size (stored when every prediction used the same number).
    """
    first: dict[tuple[str, SweepPoint | None], RunRecord] = {}
    for run in runs:
        first.setdefault((run.client, run.sweep), run)
    expected = tuple(
        endpoint_for(run.scenario).expect(
            client,
            run.scenario,
            run.config,
            sweep,
            sim_runs,
            run.command.command if run.command is not None else None,
        )
        for (client, sweep), run in first.items()
    )
    used = {sim_runs or sim_runs_for(run.scenario.n) for run in first.values()}
    replayable = [r for r in runs if endpoint_for(r.scenario).replays and r.command is None]
    return TheoryRecord(
        expected=expected,
        replays=tuple(replay_runs(replayable)),
        sim_runs=used.pop() if len(used) == 1 else None,
    )


def format_simulation(
    scenario: Scenario, names: Sequence[str], overrides: Overrides = (), runs: int | None = None
) -> str:
    """`--simulate`: the comparison as theory predicts it, in the summary's layout."""
    return endpoint_for(scenario).simulation(scenario, names, overrides, runs)
