"""A bench's plan and what a failed run is called: shared by the runner and by
`--command` runs (`bench.running.shell_command`), which the runner starts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bench.endpoints.registry import client_config, server_kwargs
from bench.records.scenario import Overrides, Scenario
from clients import WRITEUP_CLIENTS
from clients.config import ClientConfig
from clients.infra.records import Attempt, ClientRun
from mock_server.processes.server import MockServer, ServerError


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """A whole comparison: which clients, how many runs each, in what scenario.

    `overrides`: client knobs the user set (`--retry`, `--deadline`, a sweep's
    knob), applied on top of what the scenario derives. `url`: a mock server
    already running, instead of the bench's own. `api_key`: the key every
    client and command presents (the bench's own server is started with it
    as its one key); never written to a record.
    """

    clients: tuple[str, ...] = WRITEUP_CLIENTS
    runs: int = 10
    scenario: Scenario = field(default_factory=Scenario)
    overrides: Overrides = ()
    url: str | None = None
    commands: tuple[tuple[str, str], ...] = ()  # (name, shell command), run after the clients
    api_key: str | None = field(default=None, repr=False)

    def server_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the bench's own `MockServer`: the scenario's, and the
        plan's API key as the server's one key."""
        kwargs = server_kwargs(self.scenario)
        if self.api_key:
            kwargs["extra_args"] += ("--api-key", self.api_key)
        return kwargs

    def client_config(self, chat_url: str) -> ClientConfig:
        config = client_config(self.scenario, chat_url, self.overrides)
        return replace(config, api_key=self.api_key) if self.api_key else config


#: How a run's client is run: in the bench's process (`clients.run_client`) or in
#: a process of its own (`bench.running.parallel.in_own_process`).
ClientRunner = Callable[[str, ClientConfig], ClientRun]


@dataclass(frozen=True, slots=True)
class Job:
    """One run of one client: the unit of progress."""

    index: int  # position in the whole bench
    run: int  # run number of this client
    client: str
    seed: int


def server_failure(server: MockServer | None, what: str, exc: ServerError) -> str:
    """Why a run failed when the server would not answer `what` ("before the run")."""
    if server is not None and server.died():
        return f"the mock server died {what}"
    return f"the server did not answer {what}: {exc}"


def describe_fault(attempt: Attempt) -> str:
    if attempt.status == 200:
        return "HTTP 200 with a body that is not the answer"
    if attempt.status is not None:
        return f"HTTP {attempt.status}"
    return "timeout" if attempt.outcome == "timeout" else "no HTTP answer"


def fault_reason(attempts: tuple[Attempt, ...]) -> str | None:
    """Why a run cannot be trusted as a measurement of the client, or None.

    429s are the subject, not a fault. Anything else (a 500, a body that is
    not the answer, a connection refused, an attempt that never came back; a
    401 or 400 refusing the client's own request) means the run is no
    measurement of the client's pacing, and it must not be averaged in.
    """
    faulty = [a for a in attempts if a.outcome in ("error", "timeout")]
    if not faulty:
        return None
    # A 4xx other than 429 (a bad body, a key the server did not issue, a body
    # over its cap) is the client's request refused, not the server misbehaving.
    refused = [a for a in faulty if a.status is not None and 400 <= a.status < 500]
    reasons = []
    for attempts_of, what in (
        ([a for a in faulty if a not in refused], "the server misbehaved"),
        (refused, "the server refused the client's requests"),
    ):
        if attempts_of:
            faults = Counter(describe_fault(a) for a in attempts_of)
            listed = ", ".join(f"{count} × {kind}" for kind, count in faults.most_common())
            reasons.append(f"{what}: {listed} (attempts that were neither ok nor 429)")
    return "; ".join(reasons)
