"""A request set sent to an LLM endpoint: what every such client shares.

The set is a JSONL file in the OpenAI cookbook's batch format (`python -m
bench requests`): one request body per line, in the API's own body format,
with a `metadata` object that is taken off before sending, as the
cookbook's processor does. It holds what the server will count against the
limits (OpenAI's `{request, prompt_tokens, charge}`, Anthropic's `{request,
input_tokens}`); clients that plan read it there rather than estimating it
again, as `costs` in the API's limits' order (`clients.infra.llm_api`).

`run_llm_batch` is `clients.infra.async_batch` for these endpoints: one
task per request running the one request loop (`clients.infra.loop`), with
the request's own body in its send and, if the policy needs it, the
request's own costs in its limiter; the API (`config.api`) says where and
how each attempt goes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from clients.config import ClientConfig, ConfigError
from clients.infra import loglines
from clients.infra.llm_api import Costs, api_for
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.request_set import RequestSetError, read_request_set
from clients.infra.retry import RetryPolicy
from clients.infra.run_loop import run_loop
from clients.limiters.base import Limiter

if TYPE_CHECKING:
    import aiohttp

    from clients.infra.attempts import Reply

# Wall seconds an idle connection is kept for reuse. uvicorn closes idle
# connections after 5 s and the SDK's pool kept them 5 s too: a retry that
# reused one at that edge failed before reaching the server (seen once in
# 360 attempts of openai_tenacity at time scale 0.1, where retries sleep
# about that long). Kept well under the server's 5 s, no reuse races it.
KEEPALIVE = 2.0


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One line of the request set: its index, the body to POST, its charge if
    stated (OpenAI's tokens: prompt + max_tokens), and what it draws on each of
    the API's limits if the set says (`clients.infra.llm_api`)."""

    index: int
    body: dict[str, Any]
    charge: int | None
    costs: Costs | None = None


def base_url(config: ClientConfig) -> str:
    """The server's base URL (the bench hands every client its `/chat` URL)."""
    return config.url.rstrip("/").removesuffix("/chat").removesuffix("/v1")


def endpoint_url(config: ClientConfig) -> str:
    """Where the batch's requests go: the API's path on the server."""
    return base_url(config) + api_for(config).path


def load_request_set(config: ClientConfig) -> list[ChatRequest]:
    """The first `config.n` requests of `config.requests_file`; ConfigError if it
    is missing, unreadable or shorter than that."""
    if config.requests_file is None:
        raise ConfigError(
            "this client sends a request set: give one (write it with "
            "`python -m bench requests --n N --out FILE`)"
        )
    path = Path(config.requests_file)
    api = api_for(config)
    try:
        bodies = read_request_set(path, api.check_line)
    except RequestSetError as exc:
        raise ConfigError(str(exc)) from None
    if len(bodies) < config.n:
        raise ConfigError(f"the request set {path} has {len(bodies)} requests, not {config.n}")
    requests = []
    for index, body in enumerate(bodies[: config.n]):
        metadata = body.pop("metadata", None) or {}
        metadata = metadata if isinstance(metadata, dict) else {}
        charge = metadata.get("charge")
        requests.append(
            ChatRequest(
                index,
                body,
                int(charge) if charge is not None else None,
                api.costs(body, metadata),
            )
        )
    return requests


# Built inside the run, after its clock started: the limiter for each request.
LimiterFor = Callable[[ChatRequest], Limiter]


def run_llm_batch(
    client: str,
    config: ClientConfig,
    make_limiters: Callable[[ClientConfig], LimiterFor],
    on_line: OnLine | None = None,
) -> ClientRun:
    """Send the request set, every request as a task at once, each through its
    limiter; blocks until done or the deadline passed."""
    requests = load_request_set(config)
    api = api_for(config)
    url = endpoint_url(config)

    def post(session: aiohttp.ClientSession, request: ChatRequest) -> Awaitable[Reply]:
        return api.send(session, url, request.body)

    return run_loop(
        run_tasks(client, config, requests, make_limiters, post, api.headers(config), on_line)
    )


class Indexed(Protocol):
    """A request of a set: its place in the batch."""

    @property
    def index(self) -> int: ...


R = TypeVar("R", bound=Indexed)


async def run_tasks(
    client: str,
    config: ClientConfig,
    requests: Sequence[R],
    make_limiters: Callable[[ClientConfig], Callable[[R], Limiter]],
    post: Callable[[aiohttp.ClientSession, R], Awaitable[Reply]],
    headers: Mapping[str, str],
    on_line: OnLine | None,
) -> ClientRun:
    """Every request as a task at once, each through its limiter and the one request
    loop, `post` sending one attempt on the run's session (which carries `headers`):
    what every request-set API's own-loop clients share."""
    import aiohttp

    from clients.infra.async_batch import drive
    from clients.infra.loop import request_loop

    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    recorder.line(loglines.start(recorder.scenario_now()))
    limiter_for = make_limiters(config)
    policy = RetryPolicy.from_config(config)
    timeout = aiohttp.ClientTimeout(total=config.scaled(config.request_timeout))
    # Every request is a task at once, as the write-up's gather; `pool` caps the
    # connections (0: none), as for every aiohttp client.
    connector = aiohttp.TCPConnector(limit=config.pool, keepalive_timeout=KEEPALIVE)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, headers=dict(headers)
    ) as session:

        async def job(request: R) -> bool:
            send = functools.partial(post, session, request)
            loop = request_loop(
                request.index,
                limiter_for(request),
                policy,
                recorder,
                time_scale=config.time_scale,
            )
            return await drive(loop, send)

        try:
            async with asyncio.timeout(config.scaled(config.deadline) - recorder.now()):
                await asyncio.gather(*(job(r) for r in requests))
        except TimeoutError:
            recorder.line(loglines.deadline(recorder.scenario_now(), recorder.result().failed))
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()
