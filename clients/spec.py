"""What a client is, as plain data: the one place the bench, theory and report read.

Every module under `clients/catalog/` declares a `SPEC` and a `run(config,
on_line) -> ClientRun`. The bench, the theory, the sweep, the matrix, the
report and the progress bar read the spec and never a client's name, so a new
client is one module plus one line in `clients.REGISTRY`.

A catalog module imports only this module and `clients.config` at its top;
what it needs to run (aiohttp, requests, redis, aiometer, ...) it imports
inside `run`, so that listing the clients costs nothing and `python -m clients
NAME` loads only what NAME needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from mock_server.vocabulary import RatebenchError

#: How the batch's requests run at once: threads of `requests`, asyncio tasks of
#: `aiohttp`, or several processes.
Concurrency = Literal["threads", "asyncio", "processes"]
CONCURRENCIES: tuple[str, ...] = get_args(Concurrency)

#: The limiting policy, the other axis of the teaching matrix.
Policy = Literal[
    "no limit",
    "at most N in flight",
    "token bucket",
    "leaky bucket",
    "paced starts",
    "sliding log",
    "reopen gate",
    "shared sliding log",
    # The OpenAI-compatible endpoint's clients (requests and tokens per minute).
    "budget window",
    "SDK retries",
    "random exponential backoff",
    "header adaptive",
    "cookbook parallel",
    # A library's own limiter acquired before every attempt (the loop retries),
    # or a library that sends, paces and retries each request itself.
    "library limiter",
    "library client",
    # Anthropic's clients (the budget and the header-learning client serve both LLM APIs).
    "Anthropic SDK retries",
    # Gemini's clients (requests and input tokens per minute, requests per day).
    "quota budget",
    "retry info",
]
POLICIES: tuple[str, ...] = get_args(Policy)

#: The endpoint a client speaks: the write-up's `GET /chat`, the OpenAI-compatible
#: `POST /v1/chat/completions` (requests and tokens per minute), Anthropic's
#: `POST /v1/messages` (requests, input and output tokens per minute), or Gemini's
#: `generateContent` (requests and input tokens per minute, requests per day).
Api = Literal["chat", "openai", "anthropic", "gemini"]
APIS: tuple[str, ...] = get_args(Api)

#: Services a client needs besides the mock server.
Need = Literal["redis"]
NEEDS: tuple[str, ...] = get_args(Need)

#: How a batch's request loops run (`clients.infra.loop.processes`): one per
#: request, all started at t = 0 ("tasks"), or `workers` pool threads that each
#: take the next request when free and stay blocked through its sends and retry
#: sleeps ("workers").
Shape = Literal["tasks", "workers"]


#: Knobs every client reads through the one request loop and its driver.
COMMON_KNOBS: tuple[str, ...] = (
    "attempts",
    "retry",
    "first_sleep",
    "deadline",
    "request_timeout",
)

#: The request loop's retry knobs, and the policies that retry their own way
#: (the SDK's retries, tenacity's, the cookbook processor's five attempts
#: requeued at once), which read none of them.
LOOP_RETRY_KNOBS: tuple[str, ...] = ("attempts", "retry", "first_sleep")
OWN_RETRIES: frozenset[str] = frozenset(
    {
        "SDK retries",
        "random exponential backoff",
        "cookbook parallel",
        "library client",
        "Anthropic SDK retries",
    }
)

#: The `ClientConfig` knobs each policy reads, besides `COMMON_KNOBS`.
POLICY_KNOBS: dict[str, tuple[str, ...]] = {
    "no limit": (),
    "at most N in flight": ("workers",),
    "token bucket": ("rate", "capacity", "initial_tokens"),
    "leaky bucket": ("rate", "capacity"),
    "paced starts": ("rate",),
    "sliding log": ("rate", "capacity", "server_strategy"),
    "reopen gate": (),
    "shared sliding log": ("rate", "capacity", "redis_url"),
    # The LLM endpoint's clients: the request set, and the limits if told them.
    "budget window": (
        "rpm",
        "tpm",
        "itpm",
        "otpm",
        "otpm_charge",
        "requests_file",
        "server_strategy",
    ),
    "SDK retries": ("requests_file",),
    "random exponential backoff": ("requests_file",),
    "header adaptive": ("requests_file", "server_strategy"),
    "cookbook parallel": ("rpm", "tpm", "requests_file"),
    "library limiter": ("rate", "capacity", "rpm", "tpm", "requests_file"),
    "library client": ("rate", "capacity", "rpm", "tpm", "requests_file"),
    "Anthropic SDK retries": ("requests_file",),
    "quota budget": ("rpm", "itpm", "rpd", "day_minutes", "day_start", "requests_file"),
    "retry info": ("requests_file",),
}


class SpecError(RatebenchError):
    """A spec that leaves out something the bench needs; the message names it."""


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One client, described for everything that is not the client itself.

    - `name`: what users type (`python -m clients NAME`, `--clients NAME`).
    - `concurrency`, `policy`: the two axes of the teaching matrix.
    - `api`: the endpoint it talks to; `also`: the other endpoints it speaks
      through their interface (`clients.infra.llm_api`), run by `--api` any
      of them; `needs`: services it needs (Redis).
    - `paces`: it spaces its own sends in time, so its rate knob decides its
      throughput (a sweep of `rate` means something for it).
    - `caps_in_flight`: at most `workers` attempts are on the wire at once,
      so Little's law (in flight / latency) bounds its throughput.
    - `summary`: one sentence for tables; `explain`: two or three sentences
      for the report, saying what it does and why it behaves as it does.
    - `no_model`: why theory has no model of it, for a client whose module
      gives no `virtual_loops` (`clients.infra.virtual`); "" for one that does.
    - `library`: the PyPI package whose code does the limiting, for the
      leaderboard (`python -m bench leaderboard`); "" for ratebench's own.
    - `cannot_express`: the limits of its API the library has no way to be
      told ("tokens" for a requests-only limiter on the OpenAI endpoint).
    """

    name: str
    concurrency: Concurrency
    policy: Policy
    summary: str
    explain: str
    paces: bool
    caps_in_flight: bool
    no_model: str = ""
    api: Api = "chat"
    needs: frozenset[Need] = frozenset()
    library: str = ""
    cannot_express: tuple[str, ...] = ()
    also: tuple[Api, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise SpecError(f"client name {self.name!r} must be a Python identifier")
        checks = {
            "concurrency": (self.concurrency, CONCURRENCIES),
            "policy": (self.policy, POLICIES),
            "api": (self.api, APIS),
        }
        for field, (value, allowed) in checks.items():
            if value not in allowed:
                raise SpecError(f"{self.name}: {field} must be one of {allowed}, got {value!r}")
        for other in self.also:
            if other not in APIS or other == self.api:
                raise SpecError(f"{self.name}: also must name other APIs of {APIS}, got {other!r}")
        for need in self.needs:
            if need not in NEEDS:
                raise SpecError(f"{self.name}: needs must be among {NEEDS}, got {need!r}")
        if not self.summary.strip() or not self.explain.strip():
            raise SpecError(f"{self.name}: summary and explain must say something")

    @property
    def knobs(self) -> tuple[str, ...]:
        """The `ClientConfig` fields that change what this client does: its
        policy's, `workers` for a pool or cap, and the request loop's. A bench
        shows these for each client, and a sweep refuses a knob not among them."""
        workers = ("workers",) if self.caps_in_flight else ()
        policy = tuple(k for k in POLICY_KNOBS[self.policy] if k not in workers)
        # aiohttp's connection pool is a cap on what is in flight too; the
        # thread clients open one connection per attempt.
        connections = ("pool",) if self.concurrency == "asyncio" else ()
        if self.policy.startswith("library"):  # told the limits of its own API only
            told = ("rate", "capacity") if self.api == "chat" else ("rpm", "tpm", "requests_file")
            policy = tuple(k for k in policy if k in told)
        common = COMMON_KNOBS
        if self.policy in OWN_RETRIES:
            common = tuple(k for k in common if k not in LOOP_RETRY_KNOBS)
        return workers + policy + connections + common

    @property
    def apis(self) -> tuple[Api, ...]:
        """Every endpoint it speaks, its own first."""
        return (self.api, *self.also)

    def speaks(self, api: str) -> bool:
        return api in self.apis

    @property
    def local(self) -> bool:
        """True if it needs nothing besides the mock server (`--clients all` runs it)."""
        return not self.needs
