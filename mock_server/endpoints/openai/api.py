"""An OpenAI-compatible LLM endpoint, served beside the write-up's `/chat`.

`POST /v1/chat/completions` takes OpenAI's body and answers in OpenAI's
shape, plain or streamed (server-sent `chat.completion.chunk`s ending with
`data: [DONE]`, preceded by a usage chunk when `stream_options.include_usage`
is set), so that the official SDKs work against it unchanged. `GET
/v1/models` lists the one model it pretends to be; any model name is
accepted, and every name shares one set of limits.

Admission (`mock_server.limits`): requests and tokens per minute, both
needed, tokens charged as `tokens` estimates. Latency (`llm_latency`): a
time to the first token and a time per token, drawn for accepted requests
only. Headers and error bodies (`errors`) say what OpenAI says. Keys
(`keys`): with `--api-key`, a request must present one of the server's keys
(`Authorization: Bearer`, a 401 otherwise), and each project has its own
requests and tokens per minute.

Every request is in the server's log (`GET /log`) beside `/chat`'s, with
the same fields (arrival, decision, accepted, latency drawn, when the
answer left) and its own (`OpenAILogEntry`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from limits.storage import Storage, storage_from_string
from starlette.requests import ClientDisconnect

from mock_server import llm_latency, tokens
from mock_server.core import ENTRY_KEY, ASGIApp, Core, Receive, Scope, Send
from mock_server.endpoints.faults import FaultInjector
from mock_server.endpoints.openai.errors import (
    OPENAI_FAULTS,
    auth_error_body,
    error_body,
    rate_limit_body,
    ratelimit_headers,
    refusal_headers,
)
from mock_server.endpoints.openai.schema import (
    ChatCompletionRequest,
    InvalidRequest,
    parse_request,
)
from mock_server.endpoints.openai.settings import OpenAISettings
from mock_server.keys import bearer, limit_key
from mock_server.limits import Admission, Decision, LimitState, TwoLimits
from mock_server.llm_latency import LLMDraw
from mock_server.log import LogEntry
from mock_server.redis_store import (
    MillisecondRedisStorage,
    SharedDraws,
    limiter_options,
    limiter_uri,
)
from mock_server.token_bucket import Bucket, TwoBuckets, bucket_store
from mock_server.vocabulary import MINUTE

COMPLETIONS_PATH = "/v1/chat/completions"
MODEL_ID = "ratebench-mock"
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@dataclass(slots=True)
class OpenAILogEntry(LogEntry):
    """One `/v1/chat/completions` request: `/chat`'s fields, meaning the same
    (`accepted`: admitted by both limits; `drawn`: scenario seconds from the
    decision to the last token; `window_reset`: the request limit's window),
    and these. Token counts are per request, all choices together."""

    endpoint: str = COMPLETIONS_PATH
    model: str | None = None
    stream: bool | None = None
    n: int | None = None
    prompt_tokens: int | None = None  # estimated (see mock_server.tokens)
    max_tokens: int | None = None  # per choice, as charged
    tokens_requested: int | None = None  # the charge: prompt + n x max_tokens
    tokens_charged: int | None = None  # counted against TPM: the charge if admitted, else 0
    # Output tokens handed to the client, all choices: a stream's as its chunks
    # leave (fewer than drawn if the client went), a whole answer's when it leaves.
    completion_tokens: int | None = None
    tokens_used: int | None = None  # prompt + completion, if admitted
    # "requests", "tokens" or "too-large": the limit that refused it; None if
    # admitted, or if the body was invalid (status 400, `error` says why).
    refused_by: str | None = None
    retry_after: float | None = None  # wall seconds the 429 told the client to wait
    remaining_requests: int | None = None  # as the headers said, after the decision
    remaining_tokens: int | None = None
    # time.time() at which the window that counted it closes (fixed window and
    # sliding-window counter; None for the moving window, which has none).
    requests_window_reset: float | None = None
    tokens_window_reset: float | None = None
    ttft: float | None = None  # scenario seconds to the first token, drawn
    first_token: float | None = None  # monotonic: the first content chunk handed to the socket
    error: str | None = None
    # The shared fault that answered it (mock_server.endpoints.faults):
    # "overloaded" (503) or "spend-limit" (429) before its limits, or
    # "stream-error" (its stream ended with an error chunk).
    fault: str | None = None


class LLMDraws:
    """Numbers accepted completion requests (k from 1, across all workers
    through Redis) and hands out draw k of the current seed."""

    def __init__(
        self, seed: int | None, client: redis.Redis | None, prefix: str, api: str = "openai"
    ) -> None:
        self.seed = seed
        self.accepted = 0
        self.client = client
        self.counter = f"{prefix}:{api}-accepted"
        # /reset stores its seed here for every worker (see redis_store.SharedDraws).
        self.seed_key = SharedDraws(client, seed, prefix).seed_key if client is not None else ""

    def next(self) -> tuple[int, int | None]:
        """(k, seed) for the request just accepted."""
        if self.client is None:
            self.accepted += 1
            return self.accepted, self.seed
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(self.counter)
            pipe.get(self.seed_key)
            k, seed = pipe.execute()
        if seed is None:  # no /reset yet: the server's own seed
            return int(k), self.seed
        return int(k), None if seed == b"none" else int(seed)

    def reset(self, seed: int | None) -> None:
        self.seed = seed
        self.accepted = 0
        if self.client is not None:
            self.client.set(self.counter, 0)


class OpenAIRoutes:
    """The endpoint mounted on one worker's app: its limits, draws and routes.

    `OpenAIEndpoint.mount` builds it; the server asks it which requests it
    logs and calls `reset` from `POST /reset`.
    """

    def __init__(self, app: FastAPI, core: Core, config: OpenAISettings) -> None:
        settings = core.settings
        self.settings = settings
        self.config = config
        self.worker = core.worker
        self.log = core.log
        client = core.shared.client if core.shared is not None else None
        prefix = settings.redis_prefix
        storage = cast(
            Storage,
            storage_from_string(
                limiter_uri(settings.storage), **limiter_options(settings.storage, prefix)
            ),
        )
        lock: Callable[[], Any] | None = None
        if isinstance(storage, MillisecondRedisStorage):
            connection = storage.connection
            # Test-and-hit as one step for all workers (see mock_server.limits).
            lock = lambda: connection.lock(  # noqa: E731
                f"{prefix}:openai-admission", timeout=5, sleep=0.0005, blocking_timeout=10
            )
        # One pair of limits per project (one project without --api-key).
        buckets = bucket_store(storage) if config.strategy == "token-bucket" else None
        self.limits: dict[str, Admission] = {}
        for project in settings.keys.names():
            if buckets is not None:
                # Refilled at the per-minute rates, continuously; holding at
                # most --quantize's worth (or the minute's).
                minute = settings.scaled(MINUTE)
                self.limits[project] = TwoBuckets(
                    buckets,
                    Bucket(config.requests_per_window, config.rpm / minute),
                    Bucket(config.tokens_per_window, config.tpm / minute),
                    key=limit_key(project),
                    namespace="openai",
                )
            else:
                self.limits[project] = TwoLimits(
                    config.strategy,
                    storage,
                    requests=config.requests_per_window,
                    tokens=config.tokens_per_window,
                    window=settings.scaled(config.window),
                    lock=lock,
                    key=limit_key(project),
                    namespace="openai",
                )
        self.draws = LLMDraws(settings.seed, client, prefix)
        self.faults = FaultInjector(
            config.faults,
            OPENAI_FAULTS,
            "openai",
            settings.seed,
            core.worker,
            client if settings.storage.startswith("redis://") else None,
            prefix,
        )
        # With memory:// counters in several workers (the pitfall, --log), a
        # /reset served by another worker reaches this one's counters here.
        self.generations = (
            SharedDraws(client, settings.seed, prefix)
            if client is not None and core.follows_resets
            else None
        )
        self.generation: int | None = None
        self.router = APIRouter()
        self.router.add_api_route(COMPLETIONS_PATH, self.completions, methods=["POST"])
        self.router.add_api_route("/v1/models", self.models, methods=["GET"])
        self.router.add_api_route("/v1/models/{model}", self.model, methods=["GET"])
        # After every route of the endpoint: anything else under /v1 gets OpenAI's
        # 404 or 405, not FastAPI's {"detail": ...}; /chat and the server's own
        # routes keep theirs.
        for path in ("/v1", "/v1/{rest:path}"):
            self.router.add_api_route(
                path, self.no_such_route, methods=ANY_METHOD, include_in_schema=False
            )
        app.include_router(self.router)

    def __repr__(self) -> str:
        limits = next(iter(self.limits.values()))
        return f"<OpenAIRoutes {len(self.limits)} x {limits!r} worker={self.worker}>"

    def entry_kind(self, scope: Scope) -> type[LogEntry] | None:
        """Completion requests are logged; the model list is not."""
        if scope["path"] == COMPLETIONS_PATH and scope["method"] == "POST":
            return OpenAILogEntry
        return None

    def error_for(self, path: str, message: str) -> dict[str, Any] | None:
        return error_body(message, "invalid_request_error") if path.startswith("/v1/") else None

    def reset(self, seed: int | None) -> None:
        for limits in self.limits.values():
            limits.reset()
        self.draws.reset(seed)
        self.faults.reset(seed)

    async def warm_up(self, app: ASGIApp) -> None:
        """Nothing: the endpoint's first request takes the cost of its first route."""

    # -- routes ---------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        return self._refusal(request) or JSONResponse(
            {"object": "list", "data": [self._model(MODEL_ID)]}
        )

    async def model(self, request: Request, model: str) -> Response:
        return self._refusal(request) or JSONResponse(self._model(model))

    def _refusal(self, request: Request) -> Response | None:
        """OpenAI's 401 when the server issued keys and the request has none of them
        (every route of the API checks the key, the model list too)."""
        key = bearer(request.headers)
        return None if self.settings.keys.project_of(key) is not None else self._unauthorized(key)

    def _unauthorized(self, key: str | None) -> Response:
        return JSONResponse(auth_error_body(key), status_code=401, headers=self._headers())

    @staticmethod
    def _model(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "ratebench"}

    async def no_such_route(self, request: Request) -> Response:
        """404 `Invalid URL (POST /v1/foo)`, or 405 `Invalid method for URL (GET
        /v1/chat/completions)` for a route that exists with another method."""
        method, path = request.method, request.url.path
        allowed = [
            m
            for route in self.router.routes
            if isinstance(route, APIRoute)
            and route.endpoint != self.no_such_route
            and route.path_regex.match(path)
            for m in sorted(route.methods or ())
        ]
        if allowed:
            message, status, headers = (
                f"Invalid method for URL ({method} {path})",
                405,
                {"allow": ", ".join(allowed)},
            )
        else:
            message, status, headers = f"Invalid URL ({method} {path})", 404, {}
        return JSONResponse(
            error_body(message, "invalid_request_error"), status_code=status, headers=headers
        )

    async def completions(self, request: Request) -> Response:  # noqa: PLR0911  # one per ending
        entry: OpenAILogEntry = request.scope.get(ENTRY_KEY) or OpenAILogEntry(
            seq=-1, arrival=time.monotonic()
        )
        key = bearer(request.headers)
        project = self.settings.keys.project_of(key)
        if project is None:
            entry.accepted = False
            entry.error = "invalid_api_key: not a key this server issued" if key else "no API key"
            self._save(entry)
            return self._unauthorized(key)
        if self.settings.keys.required:
            entry.project = project
        limits = self.limits[project]
        try:
            body = await request.body()
        except ClientDisconnect:
            # Gone before its whole body arrived: nothing to answer, and no
            # status, since none was sent.
            entry.accepted = False
            entry.error = "client disconnected before its body arrived"
            self._save(entry)
            return NoAnswer()
        try:
            chat = parse_request(body, self.config.max_output_tokens)
        except InvalidRequest as exc:
            entry.accepted = False
            entry.error = exc.message
            headers = self._headers(*limits.state())
            payload = error_body(exc.message, "invalid_request_error", exc.param, exc.code)
            return JSONResponse(payload, status_code=400, headers=headers)

        max_tokens = chat.answer_limit(self.config.default_max_tokens)
        prompt = tokens.prompt_tokens(m.model_dump() for m in chat.messages)
        charge = tokens.charge(prompt, max_tokens, chat.choices)
        entry.model, entry.stream, entry.n = chat.model, bool(chat.stream), chat.choices
        entry.prompt_tokens, entry.max_tokens, entry.tokens_requested = prompt, max_tokens, charge

        self._follow_resets()
        fault = self.faults.refusal(project)
        if fault is not None:
            entry.accepted, (entry.fault, answer) = False, fault
            entry.error = answer.body["error"]["message"]
            self._save(entry)
            return JSONResponse(
                answer.body,
                status_code=answer.status,
                headers={**self._headers(), **answer.headers},
            )
        decision = limits.admit(charge)
        # After it returns: with several workers the admission may first wait
        # for the others' (see mock_server.limits); the answer's latency runs from here.
        entry.decided = time.monotonic()
        self._record_decision(entry, decision)
        headers = self._headers(decision.requests, decision.tokens)
        if not decision.accepted:
            self.faults.refused(project)
            self._save(entry)
            if self.config.headers:
                headers.update(refusal_headers(decision))
            return JSONResponse(
                rate_limit_body(self.config, chat.model, decision),
                status_code=429,
                headers=headers,
            )

        k, seed = self.draws.next()
        drawn = llm_latency.draw_for(
            seed, k, self.config.ttft, self.config.token_time, max_tokens, chat.choices
        )
        entry.rank, entry.ttft = k, drawn.ttft
        entry.drawn = drawn.duration
        entry.latency = self.settings.scaled(drawn.duration)
        self._sent(entry, 0)
        self._save(entry)
        reply = Reply(chat, drawn, prompt, max_tokens, entry.decided)
        if chat.stream:
            fails_after = self.faults.stream_fails(seed, k, sum(drawn.completion_tokens))
            return StreamingResponse(
                self._stream(reply, entry, fails_after),
                media_type="text/event-stream",
                headers=headers,
            )
        await self._sleep_until(entry.decided + self.settings.scaled(drawn.duration))
        if entry.disconnected is None:  # else nobody is there to take the answer
            self._sent(entry, sum(drawn.completion_tokens))
        return JSONResponse(reply.completion(), headers=headers)

    # -- helpers --------------------------------------------------------------

    def _follow_resets(self) -> None:
        if self.generations is None:
            return
        generation = self.generations.current_generation()
        if generation != self.generation:
            self.generation = generation
            for limits in self.limits.values():
                limits.reset()

    def _record_decision(self, entry: OpenAILogEntry, decision: Decision) -> None:
        entry.wall, entry.wall_after = decision.wall, decision.wall_after
        entry.accepted = decision.accepted
        entry.refused_by = decision.refused
        entry.tokens_charged = decision.charge if decision.accepted else 0
        entry.retry_after = decision.retry_after
        entry.remaining_requests = decision.requests.remaining
        entry.remaining_tokens = decision.tokens.remaining
        entry.requests_window_reset = decision.requests_window_end
        entry.tokens_window_reset = decision.tokens_window_end
        entry.window_reset = decision.requests_window_end

    def _save(self, entry: OpenAILogEntry) -> None:
        self.log.save(entry)

    def _headers(
        self, requests: LimitState | None = None, tokens_state: LimitState | None = None
    ) -> dict[str, str]:
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
        if self.config.headers and requests is not None and tokens_state is not None:
            headers.update(ratelimit_headers(self.config, requests, tokens_state))
        return headers

    @staticmethod
    async def _sleep_until(deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    @staticmethod
    def _sent(entry: OpenAILogEntry, completion_tokens: int) -> None:
        entry.completion_tokens = completion_tokens
        entry.tokens_used = (entry.prompt_tokens or 0) + completion_tokens

    async def _stream(
        self, reply: Reply, entry: OpenAILogEntry, fails_after: int | None = None
    ) -> AsyncIterator[bytes]:
        """Each chunk encoded when its time comes; the log counts the output
        tokens handed over, and the stream stops when the client has gone, or
        with an error chunk after `fails_after` tokens (--stream-error-rate)."""
        sent = 0
        for at, chunk in reply.chunks():
            await self._sleep_until(reply.decided + self.settings.scaled(at))
            if entry.disconnected is not None:
                return
            if fails_after is not None and sent >= fails_after and is_token(chunk):
                entry.fault = "stream-error"
                self._save(entry)
                yield OPENAI_FAULTS.stream_error()
                return
            if entry.first_token is None and chunk.get("choices"):
                entry.first_token = time.monotonic()
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
            # Back here once the chunk was handed to the server; dropped if the client had gone.
            if entry.disconnected is None and is_token(chunk):
                sent += 1
                self._sent(entry, sent)
        yield b"data: [DONE]\n\n"


class NoAnswer(Response):
    """What an endpoint returns to a client that has gone: nothing is sent
    (uvicorn sends no error of its own to a disconnected client)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


class Reply:
    """The answer to one accepted request: whole, or as timed chunks."""

    def __init__(
        self,
        chat: ChatCompletionRequest,
        drawn: LLMDraw,
        prompt: int,
        max_tokens: int,
        decided: float,
    ) -> None:
        self.chat = chat
        self.drawn = drawn
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.decided = decided
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def _finish(self, tokens_out: int) -> str:
        return "length" if tokens_out >= self.max_tokens else "stop"

    def usage(self) -> dict[str, int]:
        completion = sum(self.drawn.completion_tokens)
        return {
            "prompt_tokens": self.prompt,
            "completion_tokens": completion,
            "total_tokens": self.prompt + completion,
        }

    def completion(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.chat.model,
            "choices": [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": llm_latency.answer_text(n),
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": self._finish(n),
                }
                for i, n in enumerate(self.drawn.completion_tokens)
            ],
            "usage": self.usage(),
            "system_fingerprint": None,
        }

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.chat.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.chat.include_usage:
            chunk["usage"] = None
        return chunk

    def chunks(self) -> Iterator[tuple[float, dict[str, Any]]]:
        """(scenario seconds after the decision, chunk), in sending order, each
        made when asked for: a long answer is never held whole.

        Each choice opens with its role when its first token is ready; token
        i of every choice goes out at `drawn.ready(i)`; a choice's last token
        is followed by its finish; then the usage chunk if asked for.
        """
        counts = self.drawn.completion_tokens
        at = 0.0
        for i in range(max(counts)):
            at = self.drawn.ready(i)
            for c, n in enumerate(counts):
                if i >= n:
                    continue
                if i == 0:
                    delta = {"role": "assistant", "content": "", "refusal": None}
                    yield at, self._chunk([self._choice(c, delta)])
                content = {"content": llm_latency.token_text(i)}
                yield at, self._chunk([self._choice(c, content)])
                if i == n - 1:
                    yield at, self._chunk([self._choice(c, {}, self._finish(n))])
        if self.chat.include_usage:
            usage_chunk = self._chunk([])
            usage_chunk["usage"] = self.usage()
            yield at, usage_chunk

    @staticmethod
    def _choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def is_token(chunk: dict[str, Any]) -> bool:
    """Whether a stream chunk carries an output token (not a role, finish or usage)."""
    choices = chunk["choices"]
    return bool(choices) and bool(choices[0]["delta"].get("content"))
