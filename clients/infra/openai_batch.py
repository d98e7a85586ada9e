"""A request set sent to the OpenAI-compatible endpoint: what every such client shares.

The set is a JSONL file in the OpenAI cookbook's batch format (`python -m
bench requests`): one request body per line, with a `metadata` object
({request, prompt_tokens, charge}) that is taken off before sending, as the
cookbook's processor does. `charge` is what the server will count against
its tokens-per-minute limit; clients that plan read it there rather than
estimating it again.

`run_openai_batch` is `clients.infra.async_batch` for this endpoint: one
task per request running the one request loop (`clients.infra.loop`), with
the request's own body in its send and, if the policy needs it, the
request's own charge in its limiter.
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
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.request_set import RequestSetError, read_request_set
from clients.infra.retry import RetryPolicy
from clients.infra.run_loop import run_loop
from clients.limiters.base import Limiter

if TYPE_CHECKING:
    import aiohttp

    from clients.infra.attempts import Reply

COMPLETIONS = "/v1/chat/completions"
# Wall seconds an idle connection is kept for reuse. uvicorn closes idle
# connections after 5 s and the SDK's pool kept them 5 s too: a retry that
# reused one at that edge failed before reaching the server (seen once in
# 360 attempts of openai_tenacity at time scale 0.1, where retries sleep
# about that long). Kept well under the server's 5 s, no reuse races it.
KEEPALIVE = 2.0


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One line of the request set: its index, the body to POST, its charge if stated."""

    index: int
    body: dict[str, Any]
    charge: int | None


def base_url(config: ClientConfig) -> str:
    """The server's base URL (the bench hands every client its `/chat` URL)."""
    return config.url.rstrip("/").removesuffix("/chat").removesuffix("/v1")


def completions_url(config: ClientConfig) -> str:
    return base_url(config) + COMPLETIONS


def load_request_set(config: ClientConfig) -> list[ChatRequest]:
    """The first `config.n` requests of `config.requests_file`; ConfigError if it
    is missing, unreadable or shorter than that."""
    if config.requests_file is None:
        raise ConfigError(
            "this client sends a request set: give one (write it with "
            "`python -m bench requests --n N --out FILE`)"
        )
    path = Path(config.requests_file)
    try:
        bodies = read_request_set(path)
    except RequestSetError as exc:
        raise ConfigError(str(exc)) from None
    if len(bodies) < config.n:
        raise ConfigError(f"the request set {path} has {len(bodies)} requests, not {config.n}")
    requests = []
    for index, body in enumerate(bodies[: config.n]):
        metadata = body.pop("metadata", None) or {}
        charge = metadata.get("charge") if isinstance(metadata, dict) else None
        requests.append(ChatRequest(index, body, int(charge) if charge is not None else None))
    return requests


# Built inside the run, after its clock started: the limiter for each request.
LimiterFor = Callable[[ChatRequest], Limiter]


def run_openai_batch(
    client: str,
    config: ClientConfig,
    make_limiters: Callable[[ClientConfig], LimiterFor],
    on_line: OnLine | None = None,
) -> ClientRun:
    """Send the request set, every request as a task at once, each through its
    limiter; blocks until done or the deadline passed."""
    from clients.transports import openai_send

    requests = load_request_set(config)
    url = completions_url(config)

    def post(session: aiohttp.ClientSession, request: ChatRequest) -> Awaitable[Reply]:
        return openai_send.send(session, url, request.body)

    return run_loop(
        run_tasks(client, config, requests, make_limiters, post, config.auth_headers, on_line)
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

    recorder = Recorder(client, config.n, on_line)
    recorder.line(loglines.start(recorder.now()))
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
            recorder.line(loglines.deadline(recorder.now(), recorder.result().failed))
    recorder.line(loglines.finish(recorder.now()))
    return recorder.result()
