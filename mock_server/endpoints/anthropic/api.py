"""Anthropic's Messages API, served beside the other APIs.

`POST /v1/messages` takes Anthropic's body and answers in its shape, whole
or streamed as its server-sent events (`message_start`,
`content_block_start`, `ping`, `content_block_delta` per token,
`content_block_stop`, `message_delta` with the stop reason and the output
usage, `message_stop`), so that the official `anthropic` SDK works against
it unchanged (`ANTHROPIC_BASE_URL`). `POST /v1/messages/count_tokens`
answers the input tokens a message would be charged, and draws on no
budget. Any model name is accepted; all share one budget per project.

Every answer has a `request-id` header. A request needs `anthropic-version`
(400 without it, as the API answers); with `--api-key`, an `x-api-key` the
server issued (or `Authorization: Bearer`), else a 401
`authentication_error`.

Admission (`buckets`): three token buckets; latency (`llm_latency`): a time
to the first token and a time per token, drawn for admitted requests only,
the k-th admitted request getting draw k; faults (`faults`): before the
buckets, and in streams. Each request is in the server's log
(`AnthropicLogEntry`) with what was charged to each bucket, and when.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from limits.storage import Storage, storage_from_string
from starlette.requests import ClientDisconnect

from mock_server import llm_latency
from mock_server.core import ENTRY_KEY, ASGIApp, Core, Scope
from mock_server.endpoints.anthropic.buckets import Admission, ThreeBuckets
from mock_server.endpoints.anthropic.errors import (
    ANTHROPIC_FAULTS,
    error_body,
    rate_limit_message,
    ratelimit_headers,
    request_id,
    retry_after,
    too_large_message,
)
from mock_server.endpoints.anthropic.schema import (
    InvalidRequest,
    MessagesRequest,
    parse_count,
    parse_message,
)
from mock_server.endpoints.anthropic.settings import AnthropicSettings
from mock_server.endpoints.faults import FaultInjector
from mock_server.endpoints.openai.api import LLMDraws, NoAnswer
from mock_server.keys import bearer, header_key, limit_key
from mock_server.llm_latency import LLMDraw
from mock_server.log import LogEntry
from mock_server.redis_store import SharedDraws, limiter_options, limiter_uri
from mock_server.token_bucket import bucket_store
from mock_server.vocabulary import MINUTE

MESSAGES_PATH = "/v1/messages"
COUNT_PATH = "/v1/messages/count_tokens"
#: What a version of the API looks like: a date (2023-06-01; the SDK of the
#: lockfile sends 2026-10-21). Every dated version is answered alike.
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(slots=True)
class AnthropicLogEntry(LogEntry):
    """One `/v1/messages` request: the fields every entry has (`accepted`:
    admitted by all three buckets; `drawn`: scenario seconds from the
    decision to the last token), and these. Walls are `time.time()`."""

    endpoint: str = MESSAGES_PATH
    model: str | None = None
    stream: bool | None = None
    max_tokens: int | None = None
    input_tokens: int | None = None  # what count_tokens answers for its body
    # Charged at admission (wall): 1 request, the input tokens, and under
    # --otpm-charge max-tokens the max_tokens; 0 if refused.
    input_charged: int | None = None
    output_charged: int | None = None
    # Under --otpm-charge produced: the output tokens charged once produced, and when.
    output_charged_later: int | None = None
    output_charged_at: float | None = None
    output_tokens: int | None = None  # handed to the client (a stream's as its events leave)
    # The bucket that refused it ("requests", "input-tokens", "output-tokens");
    # `too_large`: that bucket could never hold it (no retry-after).
    refused_by: str | None = None
    too_large: bool | None = None
    retry_after: float | None = None  # wall seconds the 429 said
    remaining_requests: int | None = None  # each bucket after the decision, whole units
    remaining_input_tokens: int | None = None
    remaining_output_tokens: int | None = None
    fault: str | None = None  # "overloaded", "spend-limit", "stream-error"
    ttft: float | None = None
    first_token: float | None = None  # monotonic: the first text delta handed over
    request_id: str | None = None
    # The official SDKs number their retries (x-stainless-retry-count: 0 first).
    retry_count: int | None = None
    error: str | None = None


class AnthropicRoutes:
    """The endpoint mounted on one worker's app (see `AnthropicEndpoint.mount`)."""

    def __init__(self, app: FastAPI, core: Core, config: AnthropicSettings) -> None:
        settings = core.settings
        self.settings = settings
        self.config = config
        self.log = core.log
        client = core.shared.client if core.shared is not None else None
        prefix = settings.redis_prefix
        storage = cast(
            Storage,
            storage_from_string(
                limiter_uri(settings.storage), **limiter_options(settings.storage, prefix)
            ),
        )
        store = bucket_store(storage)
        minute = settings.scaled(MINUTE)
        self.limits = {
            project: ThreeBuckets(store, config, minute, limit_key(project))
            for project in settings.keys.names()
        }
        self.draws = LLMDraws(settings.seed, client, prefix, "anthropic")
        self.faults = FaultInjector(
            config.faults,
            ANTHROPIC_FAULTS,
            "anthropic",
            settings.seed,
            core.worker,
            client if settings.storage.startswith("redis://") else None,
            prefix,
        )
        self.generations = (
            SharedDraws(client, settings.seed, prefix)
            if client is not None and core.follows_resets
            else None
        )
        self.generation: int | None = None
        router = APIRouter()
        router.add_api_route(MESSAGES_PATH, self.messages, methods=["POST"])
        router.add_api_route(COUNT_PATH, self.count_tokens, methods=["POST"])
        app.include_router(router)

    def __repr__(self) -> str:
        return f"<AnthropicRoutes {len(self.limits)} x {next(iter(self.limits.values()))!r}>"

    def entry_kind(self, scope: Scope) -> type[LogEntry] | None:
        if scope["path"] == MESSAGES_PATH and scope["method"] == "POST":
            return AnthropicLogEntry
        return None

    def error_for(self, path: str, message: str) -> dict[str, Any] | None:
        if path.startswith(MESSAGES_PATH):
            return error_body("request_too_large", message, request_id())
        return None

    def reset(self, seed: int | None) -> None:
        for limits in self.limits.values():
            limits.reset()
        self.draws.reset(seed)
        self.faults.reset(seed)

    async def warm_up(self, app: ASGIApp) -> None:
        """Nothing: the first request takes the cost of its first route."""

    # -- answers ----------------------------------------------------------------

    @staticmethod
    def _error(status: int, kind: str, message: str, rid: str, **headers: str) -> Response:
        return JSONResponse(
            error_body(kind, message, rid),
            status_code=status,
            headers={"request-id": rid, **headers},
        )

    def _gate(self, request: Request, rid: str) -> tuple[str | None, Response | None]:
        """The project the request counts against, or the 401/400 it gets."""
        key = header_key(request.headers, "x-api-key") or bearer(request.headers)
        project = self.settings.keys.project_of(key)
        if project is None:
            message = "invalid x-api-key" if key else "x-api-key header is required"
            return None, self._error(401, "authentication_error", message, rid)
        version = request.headers.get("anthropic-version")
        if version is None:
            message = "anthropic-version: header is required"
            return None, self._error(400, "invalid_request_error", message, rid)
        if not VERSION.match(version):
            message = f"anthropic-version: invalid version {version!r}, use a date: 2023-06-01"
            return None, self._error(400, "invalid_request_error", message, rid)
        return project, None

    async def count_tokens(self, request: Request) -> Response:
        rid = request_id()
        _, refusal = self._gate(request, rid)
        if refusal is not None:
            return refusal
        try:
            counted = parse_count(await request.body())
        except InvalidRequest as exc:
            return self._error(400, "invalid_request_error", exc.message, rid)
        return JSONResponse({"input_tokens": counted.input_tokens()}, headers={"request-id": rid})

    async def messages(self, request: Request) -> Response:  # noqa: PLR0911  # one per ending
        entry: AnthropicLogEntry = request.scope.get(ENTRY_KEY) or AnthropicLogEntry(
            seq=-1, arrival=time.monotonic()
        )
        rid = entry.request_id = request_id()
        retries = request.headers.get("x-stainless-retry-count", "")
        entry.retry_count = int(retries) if retries.isdigit() else None
        project, refusal = self._gate(request, rid)
        if refusal is not None or project is None:
            entry.accepted = False
            entry.error = "refused at the gate (key or anthropic-version)"
            self.log.save(entry)
            return cast(Response, refusal)
        if self.settings.keys.required:
            entry.project = project
        limits = self.limits[project]
        try:
            body = await request.body()
        except ClientDisconnect:
            entry.accepted = False
            entry.error = "client disconnected before its body arrived"
            self.log.save(entry)
            return NoAnswer()
        try:
            message = parse_message(body, self.config.max_output_tokens)
        except InvalidRequest as exc:
            entry.accepted = False
            entry.error = exc.message
            return self._error(400, "invalid_request_error", exc.message, rid)
        entry.model, entry.stream = message.model, bool(message.stream)
        entry.max_tokens, entry.input_tokens = message.max_tokens, message.input_tokens()

        self._follow_resets()
        fault = self.faults.refusal(project)
        if fault is not None:
            entry.accepted, (entry.fault, answer) = False, fault
            entry.error = answer.body["error"]["message"]
            self.log.save(entry)
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
        decision = limits.admit(entry.input_tokens, message.max_tokens)
        entry.decided = time.monotonic()
        self._record(entry, decision)
        headers = {"request-id": rid}
        if self.config.headers:
            headers.update(ratelimit_headers(decision.states, limits.limits, decision.wall))
        if not decision.accepted:
            self.faults.refused(project)
            self.log.save(entry)
            return self._refusal(entry, decision, message, limits.limits, headers)

        k, seed = self.draws.next()
        drawn = llm_latency.draw_for(
            seed, k, self.config.ttft, self.config.token_time, message.max_tokens
        )
        entry.rank, entry.ttft, entry.drawn = k, drawn.ttft, drawn.duration
        entry.latency = self.settings.scaled(drawn.duration)
        self.log.save(entry)
        reply = Reply(message, drawn, entry.input_tokens, entry.decided)
        if message.stream:
            fails_after = self.faults.stream_fails(seed, k, drawn.completion_tokens[0])
            return StreamingResponse(
                self._stream(reply, entry, limits, fails_after),
                media_type="text/event-stream",
                headers=headers,
            )
        await self._sleep_until(entry.decided + self.settings.scaled(drawn.duration))
        self._produced(entry, limits, reply.output)
        if entry.disconnected is None:
            entry.output_tokens = reply.output
        return JSONResponse(reply.message(), headers=headers)

    def _refusal(
        self,
        entry: AnthropicLogEntry,
        decision: Admission,
        message: MessagesRequest,
        limits: dict[str, int],
        headers: dict[str, str],
    ) -> Response:
        refused = cast(str, decision.refused)
        limit = limits[refused]
        if decision.too_large:
            charge = entry.input_tokens if refused == "input-tokens" else message.max_tokens
            text = too_large_message(refused, limit, charge or 0)
            return self._error(
                429,
                "rate_limit_error",
                text,
                entry.request_id or "",
                **headers,
                **{"x-should-retry": "false"},
            )
        if self.config.headers and decision.retry_after is not None:
            headers["retry-after"] = retry_after(decision.retry_after, self.settings.time_scale)
        text = rate_limit_message(refused, limit, message.model)
        return self._error(429, "rate_limit_error", text, entry.request_id or "", **headers)

    # -- helpers ----------------------------------------------------------------

    def _follow_resets(self) -> None:
        if self.generations is None:
            return
        generation = self.generations.current_generation()
        if generation != self.generation:
            self.generation = generation
            for limits in self.limits.values():
                limits.reset()

    @staticmethod
    def _record(entry: AnthropicLogEntry, decision: Admission) -> None:
        entry.wall, entry.wall_after = decision.wall, decision.wall_after
        entry.accepted = decision.accepted
        entry.refused_by = decision.refused
        entry.too_large = decision.too_large or None
        entry.input_charged = decision.input_charge
        entry.output_charged = decision.output_charge
        entry.retry_after = decision.retry_after
        entry.remaining_requests = decision.states["requests"].remaining
        entry.remaining_input_tokens = decision.states["input-tokens"].remaining
        entry.remaining_output_tokens = decision.states["output-tokens"].remaining

    def _produced(self, entry: AnthropicLogEntry, limits: ThreeBuckets, produced: int) -> None:
        """Under `produced`: charge the output tokens the model produced."""
        if self.config.otpm_charge != "produced" or entry.output_charged_at is not None:
            return
        entry.output_charged_at = limits.charge_output(produced)
        entry.output_charged_later = produced
        self.log.save(entry)

    @staticmethod
    async def _sleep_until(deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _stream(
        self,
        reply: Reply,
        entry: AnthropicLogEntry,
        limits: ThreeBuckets,
        fails_after: int | None,
    ) -> AsyncIterator[bytes]:
        """Each event when its time comes. Output tokens are charged once the
        last is produced, or when the stream stops early (its client gone, or
        a stream error): the tokens produced until then."""
        sent = 0
        try:
            for at, event in reply.events():
                await self._sleep_until(reply.decided + self.settings.scaled(at))
                if entry.disconnected is not None:
                    return
                delta = event["type"] == "content_block_delta"
                if delta and fails_after is not None and sent >= fails_after:
                    entry.fault = "stream-error"
                    yield ANTHROPIC_FAULTS.stream_error()
                    return
                if delta and entry.first_token is None:
                    entry.first_token = time.monotonic()
                if event["type"] == "message_delta":
                    self._produced(entry, limits, reply.output)
                yield sse(event)
                if delta and entry.disconnected is None:
                    sent += 1
                    entry.output_tokens = sent
        finally:
            self._produced(entry, limits, sent)


def sse(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class Reply:
    """The answer to one admitted request: whole, or as timed events."""

    def __init__(
        self, message: MessagesRequest, drawn: LLMDraw, input_tokens: int, decided: float
    ) -> None:
        self.request = message
        self.drawn = drawn
        self.input_tokens = input_tokens
        self.decided = decided
        self.output = drawn.completion_tokens[0]
        self.id = f"msg_{uuid.uuid4().hex[:24]}"

    @property
    def stop_reason(self) -> str:
        return "max_tokens" if self.output >= self.request.max_tokens else "end_turn"

    def usage(self, output: int) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output,
        }

    def _message(
        self, content: list[dict[str, Any]], stop: str | None, output: int
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "content": content,
            "model": self.request.model,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self.usage(output),
        }

    def message(self) -> dict[str, Any]:
        text = llm_latency.answer_text(self.output)
        return self._message([{"type": "text", "text": text}], self.stop_reason, self.output)

    def events(self) -> Iterator[tuple[float, dict[str, Any]]]:
        """(scenario seconds after the decision, event), in sending order: the
        opening events at once, token i at `drawn.ready(i)`, the closing ones
        with the last token."""
        yield 0.0, {"type": "message_start", "message": self._message([], None, 1)}
        first = self.drawn.ready(0)
        block = {"type": "text", "text": ""}
        yield first, {"type": "content_block_start", "index": 0, "content_block": block}
        yield first, {"type": "ping"}
        at = first
        for i in range(self.output):
            at = self.drawn.ready(i)
            delta = {"type": "text_delta", "text": llm_latency.token_text(i)}
            yield at, {"type": "content_block_delta", "index": 0, "delta": delta}
        yield at, {"type": "content_block_stop", "index": 0}
        usage = {"output_tokens": self.output}
        closing = {"stop_reason": self.stop_reason, "stop_sequence": None}
        yield at, {"type": "message_delta", "delta": closing, "usage": usage}
        yield at, {"type": "message_stop"}
