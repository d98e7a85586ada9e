"""`GET /chat`, the write-up's endpoint, limited by slowapi.

Limited as in the write-up (storage: memory unless told otherwise;
strategy: slowapi's default fixed window unless told otherwise), keyed by
project rather than by client address (see `keys`), and answers
`"hello world"` after a latency drawn only for accepted requests. Every
request is in the server's log (`GET /log`), stamped where slowapi decides
(`DecisionSpy`).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import random
import time
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from limits import RateLimitItem
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from mock_server.core import (
    ENTRY_KEY,
    WARM_UP_CLIENT,
    WARM_UP_KEY,
    ASGIApp,
    Core,
    Message,
    Scope,
    SharedState,
)
from mock_server.endpoints.chat.settings import ChatSettings
from mock_server.keys import bearer, limit_key
from mock_server.limits import window_granularity
from mock_server.log import LogEntry
from mock_server.redis_store import escape_pattern, limiter_options, limiter_uri
from mock_server.settings import ServerSettings
from mock_server.token_bucket import BucketLimiter, bucket_store

PATH = "/chat"


def scaled_limit(settings: ServerSettings, chat: ChatSettings) -> str:
    """A limits rate string whose window is the configured one times the time scale.

    slowapi only takes strings, so the rate names a granularity of exactly
    one scaled window (`limits.window_granularity`): `N/<that name>`. The
    burst size stays N: at time scale 0.1, `2/second` becomes 2 per 100 ms.
    """
    granularity = window_granularity(settings.scaled(chat.rate.window), "window")
    return f"{chat.rate.amount}/{granularity.GRANULARITY.name}"


class DecisionSpy:
    """Wraps the limits strategy slowapi uses, to log each decision where it is made.

    slowapi calls `hit` synchronously inside its check, and the endpoint or
    the 429 handler only runs after the event loop has had other work in
    between (milliseconds under load). Stamping here gives the instant the
    limiter decided, on both clocks, and the window the hit was counted in
    before any other request can change it; the latency is drawn here too,
    so that the k-th accepted request gets the k-th draw.
    """

    def __init__(
        self,
        strategy: Any,
        settings: ServerSettings,
        chat: ChatSettings,
        state: dict[str, Any],
        shared: SharedState | None = None,
    ) -> None:
        self.strategy = strategy
        self.settings = settings
        self.chat = chat
        self.state = state
        self.shared = shared
        self.current: contextvars.ContextVar[LogEntry | None] = contextvars.ContextVar(
            "ratebench_entry", default=None
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.strategy, name)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        entry = self.current.get()
        if entry is not None:
            entry.decided = time.monotonic()
            entry.wall = time.time()
        accepted = bool(self.strategy.hit(item, *identifiers, cost=cost))
        if entry is not None:
            entry.accepted = accepted
            entry.wall_after = time.time()
            entry.window_reset = float(self.strategy.get_window_stats(item, *identifiers)[0])
            if accepted and self.shared is not None:
                entry.rank, entry.drawn = self.shared.draws.draw(self.chat.latency.draw)
                entry.latency = self.settings.scaled(entry.drawn)
            elif accepted:
                entry.drawn = self.draw()
                entry.latency = self.settings.scaled(entry.drawn)
            if self.shared is not None:
                self.shared.log.save(entry)
        return accepted

    def draw(self) -> float:
        return self.chat.latency.draw(self.state["rng"])


class KeyRefused(Exception):
    """A /chat request without one of the keys the server issued."""


class ChatRoutes:
    """`GET /chat` mounted on one worker's app: its limiter and its draws."""

    def __init__(self, app: FastAPI, core: Core, chat: ChatSettings) -> None:
        settings = core.settings
        shared = core.shared
        self.core = core
        self.state: dict[str, Any] = {"rng": random.Random(settings.seed), "accepted": 0}
        if shared is not None:
            # Only the fault injection draws from this one: each worker its own
            # sequence, fixed by the seed and the worker's index.
            self.state["rng"] = random.Random(f"{settings.seed}:{core.worker}")
        state = self.state

        def key_func(request: Request) -> str:
            # Called by slowapi right before `hit`, in the same task: hand the
            # request's log entry to the spy.
            spy.current.set(request.scope.get(ENTRY_KEY))
            if request.scope.get(WARM_UP_KEY):
                return WARM_UP_CLIENT
            if shared is not None and core.follows_resets:
                # Counters in this worker's memory: a /reset served by another
                # worker reaches them here, before the next hit.
                generation = shared.draws.current_generation()
                if generation != state.get("generation"):
                    state["generation"] = generation
                    self.clear_limits()
            # The project `chat_key` found: never the address, nor anything else
            # a client can make up.
            return limit_key(request.state.project)

        bucket = chat.strategy == "token-bucket"
        limiter = Limiter(
            key_func=key_func,
            # slowapi knows limits' windows only: a bucket takes the window's place below.
            strategy="fixed-window" if bucket else chat.strategy,
            storage_uri=limiter_uri(settings.storage),
            storage_options=limiter_options(settings.storage, settings.redis_prefix),
            headers_enabled=True,
        )
        self.limiter = limiter
        self.buckets = BucketLimiter(bucket_store(limiter._storage)) if bucket else None
        spy = DecisionSpy(self.buckets or limiter._limiter, settings, chat, state, shared)
        limiter._limiter = spy  # type: ignore[assignment]  # duck-typed: it delegates the rest
        app.state.limiter = limiter
        limit = scaled_limit(settings, chat)

        async def chat_key(request: Request) -> None:
            """Run before the limiter: the project whose budget the request counts against."""
            if request.scope.get(WARM_UP_KEY):
                return  # counted under a key of its own (key_func)
            project = settings.keys.project_of(bearer(request.headers))
            if project is None:
                raise KeyRefused
            request.state.project = project
            entry: LogEntry | None = request.scope.get(ENTRY_KEY)
            if entry is not None and settings.keys.required:
                entry.project = project

        async def key_refused(request: Request, exc: Exception) -> Response:
            # /chat's own form ({"error": text}, as its 429), with RFC 6750's challenge.
            return JSONResponse(
                {
                    "error": "Invalid or missing API key: send one of this server's keys as "
                    "Authorization: Bearer KEY"
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="ratebench"'},
            )

        app.add_exception_handler(KeyRefused, key_refused)

        async def rate_limit_exceeded(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, RateLimitExceeded)
            response = JSONResponse(
                {
                    "error": f"Rate limit exceeded: {chat.rate.text}"
                    f" (time scale {settings.time_scale:g})"
                },
                status_code=429,
            )
            with_headers = limiter._inject_headers(response, request.state.view_rate_limit)
            # Retry-After is whole seconds by RFC; add the exact wait, which is what
            # a client needs at a compressed time scale.
            entry: LogEntry | None = request.scope.get(ENTRY_KEY)
            if self.buckets is not None:
                # Until this request fits, not until the bucket is full (the
                # X-RateLimit-Reset slowapi also gave Retry-After).
                item, identifiers = request.state.view_rate_limit
                wait = self.buckets.wait(item, *identifiers)
                with_headers.headers["Retry-After"] = str(math.ceil(wait - 1e-9))
                with_headers.headers["X-RateLimit-Reset-After"] = f"{wait:.6f}"
            elif entry is not None and entry.window_reset is not None:
                wait = max(0.0, entry.window_reset - time.time())
                with_headers.headers["X-RateLimit-Reset-After"] = f"{wait:.6f}"
            return with_headers

        app.add_exception_handler(RateLimitExceeded, rate_limit_exceeded)

        # The route decorator must sit above the limit decorator (see the write-up).
        @app.get(PATH, dependencies=[Depends(chat_key)])
        @limiter.limit(limit)
        async def answer(request: Request, response: Response) -> Any:
            entry: LogEntry | None = request.scope.get(ENTRY_KEY)
            latency = entry.latency if entry is not None and entry.latency is not None else 0.0
            state["accepted"] += 1
            # With shared storage, count what the whole server accepted.
            count = (
                entry.rank if entry is not None and entry.rank is not None else state["accepted"]
            )
            fault = chat.fault
            if fault.stall_after is not None and count > fault.stall_after:
                await asyncio.Event().wait()  # never set: hangs until the client gives up
            await asyncio.sleep(latency)
            if fault.error_rate and state["rng"].random() < fault.error_rate:
                if fault.error_kind == "garbage":  # a proxy's error page, say: 200 but not JSON
                    return HTMLResponse("<html><body>upstream hiccup (injected)</body></html>")
                return PlainTextResponse("internal error (injected)", status_code=500)
            return "hello world"

    def __repr__(self) -> str:
        return f"<ChatRoutes accepted={self.state['accepted']} worker={self.core.worker}>"

    def entry_kind(self, scope: Scope) -> type[LogEntry] | None:
        return LogEntry if scope["path"] == PATH and not scope.get(WARM_UP_KEY) else None

    def error_for(self, path: str, message: str) -> dict[str, Any] | None:
        return {"error": message} if path == PATH else None

    def clear_limits(self) -> None:
        """Every limit back to full: slowapi's storage, and the buckets kept beside it."""
        self.limiter.reset()
        if self.buckets is not None:
            self.buckets.store.clear()

    def reset(self, seed: int | None) -> None:
        self.clear_limits()
        self.state["accepted"] = 0
        if self.core.shared is None:
            self.state["rng"] = random.Random(seed)

    async def warm_up(self, app: ASGIApp) -> None:
        """One GET /chat through the whole stack of a fresh worker, before it
        takes traffic: unlogged, counted under a key of its own and forgotten.

        A worker's first request otherwise costs several milliseconds more
        (first route, first Redis round trips), so the window it opens starts
        late, and a client pacing itself on the server's windows is refused at
        the next edge.
        """
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [],
            "client": (WARM_UP_CLIENT, 0),
            "server": ("127.0.0.1", 0),
            WARM_UP_KEY: True,
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        await app(scope, receive, send)
        self.forget_warm_up()

    def forget_warm_up(self) -> None:
        self.state["accepted"] = 0
        storage = self.limiter._storage
        if self.core.shared is not None and hasattr(storage, "connection"):
            # This server's keys, no other's.
            own = escape_pattern(self.core.settings.redis_prefix)
            for key in storage.connection.scan_iter(f"{own}:*{WARM_UP_CLIENT}*"):
                storage.connection.delete(key)
        else:
            self.clear_limits()
