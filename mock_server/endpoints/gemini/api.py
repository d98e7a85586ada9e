"""Google's Gemini API, served beside the other APIs.

`POST /v1beta/models/{model}:generateContent` answers in Gemini's shape
(`candidates`, `usageMetadata`, `modelVersion`), `:streamGenerateContent?alt=sse`
streams it as server-sent events (one per output token), `:countTokens`
counts a body's input tokens, `GET /v1beta/models` (and `/{model}`) lists the
model. The same routes answer under `/v1`, where google-genai 2.x and later
send them by default; there a request is Gemini's only if it says so (a
`:method`, an `x-goog-api-key` header or a `?key=`), the rest of `/v1`
being the OpenAI-compatible endpoint's. Any model name is accepted, and
every name shares the project's quotas.

Keys (`keys`): in `x-goog-api-key` or `?key=`; with `--api-key`, a missing
key is Google's 403 PERMISSION_DENIED and an unknown one its 400
INVALID_ARGUMENT (reason API_KEY_INVALID). Quotas (`quotas`): RPM, input
tokens per minute and requests per day, per project; a refusal is a 429
RESOURCE_EXHAUSTED naming every quota hit (`errors`). No rate-limit header
is ever sent. Latency (`llm_latency`): a time to the first token and a
time per token, drawn for admitted requests only, as the OpenAI-compatible
endpoint draws them.

Every generation request is in the server's log (`GeminiLogEntry`): the
input tokens charged, the day and minute it was decided in, and which
quotas refused it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from mock_server import llm_latency
from mock_server.core import ENTRY_KEY, ASGIApp, Core, Scope
from mock_server.endpoints.faults import FaultInjector
from mock_server.endpoints.gemini import errors
from mock_server.endpoints.gemini.quotas import ProjectQuotas, QuotaStore, Verdict
from mock_server.endpoints.gemini.schema import (
    InvalidRequest,
    count_tokens_request,
    parse_request,
)
from mock_server.endpoints.gemini.settings import (
    MAX_CANDIDATES,
    OUTPUT_TOKEN_LIMIT,
    GeminiSettings,
)
from mock_server.endpoints.gemini.storage import MemoryQuotaStore, RedisQuotaStore
from mock_server.endpoints.openai.api import LLMDraws, NoAnswer
from mock_server.keys import header_key, limit_key, query_key
from mock_server.log import LogEntry
from mock_server.redis_store import SharedDraws
from mock_server.vocabulary import MINUTE

VERSIONS = ("v1beta", "v1")
MODEL_ID = "gemini-2.5-flash"
#: A generation request's path: version, model, method.
GENERATION = re.compile(r"^/(v1beta|v1)/models/([^/:]+):(generateContent|streamGenerateContent)$")
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(slots=True)
class GeminiLogEntry(LogEntry):
    """One generation request: `/chat`'s fields, meaning the same (`accepted`:
    admitted by all three quotas), and these. Token counts are per request,
    all candidates together."""

    endpoint: str = "generateContent"  # or "streamGenerateContent"
    model: str | None = None
    stream: bool | None = None
    candidate_count: int | None = None
    max_output_tokens: int | None = None  # as the request set it (None: not set)
    prompt_tokens: int | None = None  # its input tokens (promptTokenCount)
    tokens_charged: int | None = None  # input tokens counted against TPM: 0 if refused
    completion_tokens: int | None = None  # output tokens handed to the client
    # The quotas that refused it ("rpm", "itpm", "rpd"), as its 429 listed them;
    # None if admitted, or if refused before the quotas (a bad key or body).
    refused_by: list[str] | None = None
    too_large: bool | None = None  # its input alone exceeds TPM: no wait was given
    retry_after: float | None = None  # wall seconds the message said ("Please retry in")
    retry_delay: float | None = None  # wall seconds RetryInfo said (whole scenario seconds)
    day: int | None = None  # the day it was decided in: 0 is the day the clock started in
    minute: int | None = None  # the minute window it was decided in, from 0
    clock: float | None = None  # scenario seconds from the day clock's start to the decision
    ttft: float | None = None  # scenario seconds to the first token, drawn
    first_token: float | None = None  # monotonic: the first token handed to the socket
    error: str | None = None
    # The shared fault that answered it (mock_server.endpoints.faults):
    # "overloaded" (503) or "spend-limit" (402) before its quotas, or
    # "stream-error" (its stream ended with an error event).
    fault: str | None = None


def speaks_gemini(scope: Scope) -> bool:
    """Whether a request under /v1 is Gemini's: a POST to a `:method`, or a
    Google key (a GET of an OpenAI model whose name has colons, `ft:...`, is not)."""
    if scope["method"] == "POST" and ":" in scope["path"].rsplit("/", 1)[-1]:
        return True
    headers = dict(scope.get("headers") or [])
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return b"x-goog-api-key" in headers or "key" in query


class GeminiRoute(APIRoute):
    """A route under /v1 that matches only requests that speak Gemini (the
    OpenAI-compatible endpoint answers the others)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE or speaks_gemini(scope):
            return match, child
        return Match.NONE, {}


class GeminiRoutes:
    """The endpoint mounted on one worker's app: its quotas, draws and routes."""

    def __init__(self, app: FastAPI, core: Core, config: GeminiSettings) -> None:
        settings = core.settings
        self.settings = settings
        self.config = config
        self.log = core.log
        self.worker = core.worker
        now = time.time()
        store: QuotaStore
        if settings.storage.startswith("redis://") and core.shared is not None:
            store = RedisQuotaStore(core.shared.client, settings.redis_prefix)
        else:
            store = MemoryQuotaStore(now)
        self.store = store
        self.quotas = {
            project: ProjectQuotas(
                store,
                limit_key(project),
                strategy=config.strategy,
                rpm=config.rpm,
                itpm=config.itpm,
                rpd=config.rpd,
                minute=settings.scaled(MINUTE),
                day=settings.scaled(config.day),
                offset=settings.scaled(config.day_offset),
            )
            for project in settings.keys.names()
        }
        self.limits = {"rpm": config.rpm, "itpm": config.itpm, "rpd": config.rpd}
        client = core.shared.client if core.shared is not None else None
        # Draw k of the seed for the k-th admitted request, counted on Gemini's own counter.
        self.draws = LLMDraws(settings.seed, client, settings.redis_prefix, "gemini")
        self.faults = FaultInjector(
            config.faults,
            errors.GEMINI_FAULTS,
            "gemini",
            settings.seed,
            core.worker,
            client if settings.storage.startswith("redis://") else None,
            settings.redis_prefix,
        )
        # memory:// counters in several workers with a shared log (the pitfall):
        # a /reset served by another worker reaches this one's quotas here.
        self.generations = (
            SharedDraws(client, settings.seed, settings.redis_prefix)
            if client is not None and core.follows_resets
            else None
        )
        # The generation the store started in: a later one restarts its clock.
        self.generation = (
            self.generations.current_generation() if self.generations is not None else None
        )

        router = APIRouter()
        for version in VERSIONS:
            kind = GeminiRoute if version == "v1" else APIRoute
            router.add_api_route(
                f"/{version}/models/{{target}}",
                self.call,
                methods=["POST"],
                route_class_override=kind,
            )
            router.add_api_route(
                f"/{version}/models", self.models, methods=["GET"], route_class_override=kind
            )
            router.add_api_route(
                f"/{version}/models/{{model}}",
                self.model,
                methods=["GET"],
                route_class_override=kind,
            )
        for path in ("/v1beta", "/v1beta/{rest:path}"):
            router.add_api_route(
                path, self.no_such_route, methods=ANY_METHOD, include_in_schema=False
            )
        # The day clock opens when the worker starts serving, not when its app
        # was built (a server takes a second or two to start).
        app.router.on_startup.append(lambda: store.start(time.time()))
        # Mounted before the OpenAI-compatible endpoint (the registry's order),
        # which answers anything else under /v1 with OpenAI's 404.
        app.include_router(router)

    def __repr__(self) -> str:
        return f"<GeminiRoutes {len(self.quotas)} projects on {self.store!r} worker={self.worker}>"

    # -- what the server asks of it ---------------------------------------------

    def entry_kind(self, scope: Scope) -> type[LogEntry] | None:
        """Generation requests are logged; countTokens and the model list are not."""
        if scope["method"] == "POST" and GENERATION.match(scope["path"]):
            return GeminiLogEntry
        return None

    def error_for(self, path: str, message: str) -> dict[str, Any] | None:
        if path.startswith("/v1beta/") or GENERATION.match(path):
            return errors.invalid_argument(message)
        return None

    def reset(self, seed: int | None) -> None:
        self.store.restart(time.time())
        self.draws.reset(seed)
        self.faults.reset(seed)

    async def warm_up(self, app: ASGIApp) -> None:
        """Nothing: the endpoint's first request takes the cost of its first route."""

    # -- routes ---------------------------------------------------------------

    def _project(self, request: Request) -> tuple[str | None, Response | None]:
        """The project of the request's key, or Google's answer to a missing or unknown one."""
        key = header_key(request.headers, "x-goog-api-key") or query_key(request.query_params)
        project = self.settings.keys.project_of(key)
        if project is not None:
            return project, None
        body = errors.missing_key() if key is None else errors.invalid_key()
        return None, JSONResponse(body, status_code=body["error"]["code"])

    @staticmethod
    def _model(name: str) -> dict[str, Any]:
        return {
            "name": f"models/{name}",
            "version": "001",
            "displayName": f"{name} (ratebench mock)",
            "inputTokenLimit": 1_048_576,
            "outputTokenLimit": OUTPUT_TOKEN_LIMIT,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }

    async def models(self, request: Request) -> Response:
        _, refusal = self._project(request)
        return refusal or JSONResponse({"models": [self._model(MODEL_ID)]})

    async def model(self, request: Request, model: str) -> Response:
        _, refusal = self._project(request)
        return refusal or JSONResponse(self._model(model.removeprefix("models/")))

    async def no_such_route(self, request: Request) -> Response:
        return JSONResponse(
            errors.not_found(f"Method not found: {request.method} {request.url.path}"),
            status_code=404,
        )

    async def call(self, request: Request, target: str) -> Response:
        """`POST /v1beta/models/{model}:{method}`."""
        model, _, method = target.partition(":")
        if method == "countTokens":
            return await self.count_tokens(request)
        if method in ("generateContent", "streamGenerateContent"):
            return await self.generate(request, model, method)
        return await self.no_such_route(request)

    async def count_tokens(self, request: Request) -> Response:
        _, refusal = self._project(request)
        if refusal is not None:
            return refusal
        try:
            tokens = count_tokens_request(await request.body())
        except InvalidRequest as exc:
            return JSONResponse(errors.invalid_argument(exc.message), status_code=400)
        return JSONResponse(
            {
                "totalTokens": tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
            }
        )

    async def generate(  # noqa: PLR0911  # one return per ending
        self, request: Request, model: str, method: str
    ) -> Response:
        entry: GeminiLogEntry = request.scope.get(ENTRY_KEY) or GeminiLogEntry(
            seq=-1, arrival=time.monotonic()
        )
        stream = method == "streamGenerateContent"
        entry.endpoint, entry.model, entry.stream = method, model, stream
        project, refusal = self._project(request)
        if refusal is not None or project is None:
            entry.accepted = False
            entry.error = "no API key" if refusal is None else "missing or unknown API key"
            self.log.save(entry)
            return refusal or NoAnswer()
        if self.settings.keys.required:
            entry.project = project
        try:
            raw = await request.body()
        except ClientDisconnect:
            entry.accepted = False
            entry.error = "client disconnected before its body arrived"
            self.log.save(entry)
            return NoAnswer()
        try:
            body = parse_request(raw, OUTPUT_TOKEN_LIMIT, MAX_CANDIDATES)
        except InvalidRequest as exc:
            entry.accepted = False
            entry.error = exc.message
            return JSONResponse(errors.invalid_argument(exc.message), status_code=400)
        entry.prompt_tokens = body.input_tokens
        entry.candidate_count = body.candidate_count
        entry.max_output_tokens = body.max_output_tokens

        self._follow_resets()
        fault = self.faults.refusal(project)
        if fault is not None:
            entry.accepted, (entry.fault, answer) = False, fault
            entry.error = answer.body["error"]["message"]
            self.log.save(entry)
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
        verdict = self.quotas[project].admit(body.input_tokens)
        entry.decided = time.monotonic()
        self._record(entry, verdict)
        if not verdict.accepted:
            self.faults.refused(project)
            self.log.save(entry)
            payload = errors.quota_exceeded(
                verdict.hit, self.limits, model, verdict.retry_after, self.settings.time_scale
            )
            return JSONResponse(payload, status_code=429)

        max_tokens = body.max_output_tokens or self.config.default_max_output_tokens
        k, seed = self.draws.next()
        drawn = llm_latency.draw_for(
            seed, k, self.config.ttft, self.config.token_time, max_tokens, body.candidate_count
        )
        entry.rank, entry.ttft, entry.drawn = k, drawn.ttft, drawn.duration
        entry.latency = self.settings.scaled(drawn.duration)
        entry.completion_tokens = 0
        self.log.save(entry)
        reply = Reply(model, body.input_tokens, max_tokens, drawn, entry.decided)
        if stream:
            fails_after = self.faults.stream_fails(seed, k, sum(drawn.completion_tokens))
            return StreamingResponse(
                self._stream(reply, entry, fails_after), media_type="text/event-stream"
            )
        await self._sleep_until(entry.decided + self.settings.scaled(drawn.duration))
        if entry.disconnected is None:
            entry.completion_tokens = sum(drawn.completion_tokens)
        return JSONResponse(reply.whole())

    # -- helpers --------------------------------------------------------------

    def _follow_resets(self) -> None:
        if self.generations is None:
            return
        generation = self.generations.current_generation()
        if generation != self.generation:
            self.store.restart(time.time())
            self.generation = generation

    def _record(self, entry: GeminiLogEntry, verdict: Verdict) -> None:
        scale = self.settings.time_scale
        entry.wall, entry.wall_after = verdict.wall, verdict.wall_after
        entry.accepted = verdict.accepted
        entry.refused_by = list(verdict.hit) or None
        entry.too_large = verdict.too_large or None
        entry.tokens_charged = entry.prompt_tokens if verdict.accepted else 0
        entry.retry_after = verdict.retry_after
        if verdict.retry_after is not None:
            entry.retry_delay = errors.retry_delay(verdict.retry_after, scale)
        entry.day, entry.minute = verdict.day, verdict.minute
        entry.clock = verdict.elapsed / scale

    @staticmethod
    async def _sleep_until(deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _stream(
        self, reply: Reply, entry: GeminiLogEntry, fails_after: int | None
    ) -> AsyncIterator[bytes]:
        """One event per output token when it is ready; the log counts the tokens
        handed over, and the stream stops when the client has gone, or with an
        error event after `fails_after` tokens (--stream-error-rate)."""
        sent = 0
        for at, chunk, tokens in reply.chunks():
            await self._sleep_until(reply.decided + self.settings.scaled(at))
            if entry.disconnected is not None:
                return
            if fails_after is not None and sent >= fails_after:
                entry.fault = "stream-error"
                self.log.save(entry)
                yield errors.stream_error_event()
                return
            if entry.first_token is None:
                entry.first_token = time.monotonic()
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\r\n\r\n".encode()
            if entry.disconnected is None:
                sent += tokens
                entry.completion_tokens = sent


class Reply:
    """The answer to one admitted request: whole, or as timed chunks."""

    def __init__(
        self, model: str, prompt: int, max_tokens: int, drawn: llm_latency.LLMDraw, decided: float
    ) -> None:
        self.model = model
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.drawn = drawn
        self.decided = decided
        self.id = uuid.uuid4().hex[:22]

    def _finish(self, tokens: int) -> str:
        return "MAX_TOKENS" if tokens >= self.max_tokens else "STOP"

    def _usage(self, candidates: int) -> dict[str, Any]:
        return {
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": self.prompt + candidates,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt}],
        }

    def _answer(self, candidates: list[dict[str, Any]], output: int) -> dict[str, Any]:
        return {
            "candidates": candidates,
            "usageMetadata": self._usage(output),
            "modelVersion": self.model,
            "responseId": self.id,
        }

    @staticmethod
    def _candidate(index: int, text: str, finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "index": index,
        }
        if finish is not None:
            candidate["finishReason"] = finish
        return candidate

    def whole(self) -> dict[str, Any]:
        counts = self.drawn.completion_tokens
        return self._answer(
            [
                self._candidate(i, llm_latency.answer_text(n), self._finish(n))
                for i, n in enumerate(counts)
            ],
            sum(counts),
        )

    def chunks(self) -> Iterator[tuple[float, dict[str, Any], int]]:
        """(scenario seconds after the decision, chunk, output tokens in it), in
        sending order: token i of every candidate that has one, in one chunk
        at `drawn.ready(i)`, a candidate's last token with its finishReason."""
        counts = self.drawn.completion_tokens
        output = 0
        for i in range(max(counts)):
            candidates = [
                self._candidate(
                    c, llm_latency.token_text(i), self._finish(n) if i == n - 1 else None
                )
                for c, n in enumerate(counts)
                if i < n
            ]
            output += len(candidates)
            yield self.drawn.ready(i), self._answer(candidates, output), len(candidates)
