"""Every API the bench can run against, by name, and what the bench asks of a scenario's.

A new API is one module under `bench/endpoints/` whose object follows
`bench.endpoints.base.Endpoint`, added to `ENDPOINTS` here (and one under
`mock_server/endpoints/` for the server's side).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from bench.endpoints.anthropic.endpoint import ENDPOINT as ANTHROPIC
from bench.endpoints.base import Endpoint
from bench.endpoints.chat.endpoint import ENDPOINT as CHAT
from bench.endpoints.gemini.endpoint import ENDPOINT as GEMINI
from bench.endpoints.llm_flags import add_llm_arguments, given_llm_flags
from bench.endpoints.openai.endpoint import ENDPOINT as OPENAI
from bench.records.results import RunRecord, SweepPoint, TheoryRecord
from bench.records.scenario import (
    ERROR_KINDS,
    Faults,
    KnobValue,
    Overrides,
    Scenario,
    parse_latency,
    parse_limit,
)
from bench.theory.replay import replay_runs
from bench.theory.sim_runs import sim_runs_for
from clients.config import ClientConfig
from mock_server.endpoints import ENDPOINTS as SERVED
from mock_server.vocabulary import STRATEGIES, Strategy, UsageError

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (CHAT, OPENAI, ANTHROPIC, GEMINI)}
#: `/chat`, the write-up's endpoint: the bench's default.
DEFAULT_API = CHAT.name


def endpoint(name: str) -> Endpoint:
    return ENDPOINTS[name]


def endpoint_for(scenario: Scenario) -> Endpoint:
    return ENDPOINTS[scenario.api]


#: The flags that make a `Scenario`, by what they set; `faults` is --error-rate,
#: --error-kind and --stall-after, `api` is --api and every endpoint's own flags.
SCENARIO_FLAGS = ("n", "time_scale", "seed", "rate", "strategy", "latency", "faults", "api")

_HELPS = {
    "n": "requests per batch (default: {default})",
    "time_scale": "multiplies every duration (latency, window, retry sleeps); results are "
    "reported in scenario seconds (default: {default})",
    "seed": "run i of every client uses latency seed SEED+i (default: {default})",
    "rate": "server limit (default: {default})",
    "strategy": "server's limits strategy (default: each API's own: {default})",
    "latency": "server latency range in seconds (default: {default})",
    "error_rate": "fault injection: the server answers this share of accepted requests "
    "with an error (default: {default})",
    "error_kind": "what --error-rate answers: a 500, or a 200 whose body is not JSON "
    "(default: {default})",
    "stall_after": "fault injection: the server stops answering after N accepted requests",
    "api": "the endpoint: the write-up's GET /chat, openai (POST /v1/chat/completions, "
    "limited in requests and tokens per minute), anthropic (POST /v1/messages, three "
    "token buckets: requests, input and output tokens per minute) or gemini "
    "(generateContent: requests and input tokens per minute, requests per day); runs the "
    "clients that "
    "speak it (default: {default})",
}


def add_scenario_arguments(
    parser: argparse.ArgumentParser,
    flags: Sequence[str] = SCENARIO_FLAGS,
    *,
    defaults: Mapping[str, Any] | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add the flags that make a `Scenario` to `parser`; `scenario_from_args` reads them.

    `flags`: the ones of SCENARIO_FLAGS a command offers (a scenario keeps its
    defaults for the others). `defaults`: a command's own defaults, by the
    argument's name (`{"n": 40}`; -n's is None otherwise, the scenario's 10).
    `helps`: a command's own words for a flag whose meaning it narrows, by the
    argument's name; `{default}` in them is the default.
    """
    base = Scenario()
    chosen: dict[str, Any] = {
        "n": None,
        "time_scale": base.time_scale,
        "seed": base.seed,
        "rate": str(base.limit),
        "strategy": None,  # each API's own (`default_strategy`)
        "latency": str(base.latency),
        "error_rate": base.faults.error_rate,
        "error_kind": base.faults.error_kind,
        "stall_after": base.faults.stall_after,
        "api": DEFAULT_API,
    }
    chosen.update(defaults or {})
    words = _HELPS | dict(helps or {})

    def add(dest: str, *names: str, **kwargs: Any) -> None:
        shown = chosen[dest] if chosen[dest] is not None else getattr(base, dest, None)
        if dest == "strategy" and chosen[dest] is None:
            shown = ", ".join(f"{name} {default_strategy(name)}" for name in ENDPOINTS)
        if isinstance(shown, float):
            shown = f"{shown:g}"
        parser.add_argument(
            *names,
            dest=dest,
            default=chosen[dest],
            help=words[dest].format(default=shown),
            **kwargs,
        )

    for flag in flags:
        if flag == "n":
            add("n", "-n", type=int)
        elif flag == "time_scale":
            add("time_scale", "--time-scale", type=float)
        elif flag == "seed":
            add("seed", "--seed", type=int)
        elif flag == "rate":
            add("rate", "--rate")
        elif flag == "strategy":
            add("strategy", "--strategy", choices=STRATEGIES)
        elif flag == "latency":
            add("latency", "--latency")
        elif flag == "faults":
            add("error_rate", "--error-rate", type=float)
            add("error_kind", "--error-kind", choices=ERROR_KINDS)
            add("stall_after", "--stall-after", type=int)
        elif flag == "api":
            add("api", "--api", choices=tuple(ENDPOINTS))
            add_llm_arguments(
                parser,
                {name: e.llm_flags for name, e in ENDPOINTS.items()},
                {name: SERVED[name].limit_defaults for name in ENDPOINTS},
            )
            for each in ENDPOINTS.values():
                each.add_arguments(parser)
        else:
            raise ValueError(f"{flag!r} is not one of the scenario's flags {SCENARIO_FLAGS}")


def default_strategy(api: str) -> Strategy:
    """The limits strategy the server enforces on `api` unless told otherwise."""
    return SERVED[api].default_strategy


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The scenario that `add_scenario_arguments`' flags in `args` make; the scenario's
    defaults for flags the command does not offer. On `--api`'s endpoint with its
    flags; another endpoint's flag is one line naming the `--api` it needs.
    ScenarioError or UsageError says what is wrong."""
    given = vars(args)
    base = Scenario()
    faults = base.faults
    if "error_rate" in given:
        faults = Faults(given["error_rate"], given["error_kind"], given["stall_after"])
    limit = base.limit
    if "rate" in given or "strategy" in given:
        strategy = given.get("strategy") or default_strategy(given.get("api", DEFAULT_API))
        limit = parse_limit(given.get("rate", str(limit)), strategy)
    scenario = Scenario(
        limit=limit,
        latency=parse_latency(given["latency"]) if "latency" in given else base.latency,
        n=base.n if given.get("n") is None else given["n"],
        time_scale=given.get("time_scale", base.time_scale),
        seed=given.get("seed", base.seed),
        faults=faults,
    )
    if "api" not in given:
        return scenario
    for name, each in ENDPOINTS.items():
        flags = each.given_flags(args)
        if name != args.api and flags:
            raise UsageError(f"{flags[0]} is for the {name} endpoint: add --api {name}")
    reads = ENDPOINTS[args.api].llm_flags
    for dest, typed in given_llm_flags(args):
        if dest not in reads:
            apis = [name for name, e in ENDPOINTS.items() if dest in e.llm_flags]
            raise UsageError(
                f"{typed} is for the {' or '.join(apis)} endpoint: add --api {apis[0]}"
            )
    return ENDPOINTS[args.api].scenario_from_args(scenario, args)


def server_kwargs(scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    """Keyword arguments of `mock_server.processes.server.MockServer` for this scenario."""
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
