"""The rate-limited `/chat` endpoint of the write-up, with a log of what it saw.

`GET /chat` is limited by slowapi as in the write-up (storage: memory;
strategy: slowapi's default fixed window unless told otherwise), keyed by
project rather than by client address (see `keys`), and answers
`"hello world"` after a latency drawn only for accepted requests. `GET /log`
returns every `/chat` request in arrival order, with arrival and departure
times on `time.monotonic()`, which every process on the machine shares, so
that clients can be checked against what the server accepted rather than
against their own word; `GET /log?since=N` reads it a page at a time.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import redis
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from limits import RateLimitItem
from limits.limits import Granularity
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from mock_server.hardening import BodyCap, same_origin
from mock_server.keys import bearer, limit_key
from mock_server.log import LogEntry, encode_log, stamped_send, watch_client
from mock_server.openai_api import OpenAIEndpoint
from mock_server.openai_errors import error_body
from mock_server.redact import redact
from mock_server.redis_store import (
    SharedDraws,
    SharedLog,
    escape_pattern,
    limiter_options,
    limiter_uri,
)
from mock_server.settings import ServerSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENTRY_KEY = "ratebench.entry"
WARM_UP_KEY = "ratebench.warm_up"
LOG_PAGE = 10_000  # entries per page of `GET /log?since=N`, unless `limit` says


def scaled_limit(settings: ServerSettings) -> str:
    """A limits rate string whose window is the configured one times the time scale.

    limits' rate strings stop at seconds and slowapi only takes strings, so we
    register a granularity of exactly one scaled window (limits keeps a
    registry of granularities by name) and ask for `N/<that name>`. The burst
    size stays N: at time scale 0.1, `2/second` becomes 2 per 100 ms.
    """
    window = settings.scaled(settings.rate.window)
    micros = round(window * 1e6)
    # Granularity names must be letters only; spell the window's microseconds in letters.
    name = "window" + "".join(chr(ord("a") + int(d)) for d in str(micros))
    type(
        f"RateLimitItemPer{name.capitalize()}",
        (RateLimitItem,),
        {"GRANULARITY": Granularity(window, name)},  # type: ignore[arg-type]
    )
    return f"{settings.rate.amount}/{name}"


class ArrivalLog:
    """The server's own record of `/chat` traffic: a pure ASGI middleware.

    Pure ASGI rather than an `@app.middleware("http")` function, so that the
    arrival stamp is taken before any framework work and costs next to nothing
    under load.
    """

    def __init__(
        self,
        app: ASGIApp,
        path: str = "/chat",
        sink: Callable[[LogEntry], None] | None = None,
        worker: int | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.entries: list[LogEntry] = []
        # With shared storage, every change to an entry is also written there.
        self.sink = sink
        self.worker = worker

    def clear(self) -> None:
        # A fresh list, so that requests still in flight from before the
        # reset fill in entries that no longer appear in the log.
        self.entries = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope.get(WARM_UP_KEY):
            await self.app(scope, receive, send)
            return
        entry = LogEntry(seq=len(self.entries), arrival=time.monotonic(), worker=self.worker)
        self.entries.append(entry)
        scope[ENTRY_KEY] = entry
        send_and_stamp = stamped_send(entry, send, self.sink)
        async with watch_client(entry, receive, self.sink) as receive_and_watch:
            await self.app(scope, receive_and_watch, send_and_stamp)


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
        state: dict[str, Any],
        shared: SharedState | None = None,
    ) -> None:
        self.strategy = strategy
        self.settings = settings
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
                entry.rank, entry.drawn = self.shared.draws.draw(self.draw_from)
                entry.latency = self.settings.scaled(entry.drawn)
            elif accepted:
                entry.drawn = self.draw()
                entry.latency = self.settings.scaled(entry.drawn)
            if self.shared is not None:
                self.shared.log.save(entry)
        return accepted

    def draw(self) -> float:
        return self.draw_from(self.state["rng"])

    def draw_from(self, rng: random.Random) -> float:
        low, high = self.settings.latency.low, self.settings.latency.high
        if self.settings.latency.whole_seconds:
            return float(rng.randint(int(low), int(high)))
        return rng.uniform(low, high)


class KeyRefused(Exception):
    """A /chat request without one of the keys the server issued."""


@dataclass(slots=True)
class SharedState:
    """What the workers of one server share through Redis (see redis_store)."""

    log: SharedLog
    draws: SharedDraws


def create_app(settings: ServerSettings, worker: int | None = None) -> FastAPI:
    """The app of one worker process; `worker` is its index with --workers N."""
    state: dict[str, Any] = {
        "rng": random.Random(settings.seed),
        "accepted": 0,
        "seed": settings.seed,  # as /reset?seed=N last set it
    }
    shared: SharedState | None = None
    if settings.shared_uri is not None:
        client = redis.Redis.from_url(settings.shared_uri)
        prefix = settings.redis_prefix
        shared = SharedState(SharedLog(client, prefix), SharedDraws(client, settings.seed, prefix))
        # Only the fault injection draws from this one: each worker its own
        # sequence, fixed by the seed and the worker's index.
        state["rng"] = random.Random(f"{settings.seed}:{worker}")

    def key_func(request: Request) -> str:
        # Called by slowapi right before `hit`, in the same task: hand the
        # request's log entry to the spy.
        spy.current.set(request.scope.get(ENTRY_KEY))
        if request.scope.get(WARM_UP_KEY):
            return WARM_UP_CLIENT
        if shared is not None and not settings.storage.startswith("redis://"):
            # Counters in this worker's memory: a /reset served by another
            # worker reaches them here, before the next hit.
            generation = shared.draws.current_generation()
            if generation != state.get("generation"):
                state["generation"] = generation
                limiter.reset()
        # The project `chat_key` found: never the address, nor anything else
        # a client can make up.
        return limit_key(request.state.project)

    limiter = Limiter(
        key_func=key_func,
        strategy=settings.strategy,
        storage_uri=limiter_uri(settings.storage),
        storage_options=limiter_options(settings.storage, settings.redis_prefix),
        headers_enabled=True,
    )
    spy = DecisionSpy(limiter._limiter, settings, state, shared)
    limiter._limiter = spy  # type: ignore[assignment]  # duck-typed: it delegates the rest
    app = FastAPI(title="ratebench mock LLM endpoint", docs_url=None, redoc_url=None)
    app.state.limiter = limiter
    limit = scaled_limit(settings)
    openai = OpenAIEndpoint(settings, shared.log.client if shared is not None else None, worker)

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
                "error": f"Rate limit exceeded: {settings.rate.text}"
                f" (time scale {settings.time_scale:g})"
            },
            status_code=429,
        )
        with_headers = limiter._inject_headers(response, request.state.view_rate_limit)
        # Retry-After is whole seconds by RFC; add the exact wait, which is what
        # a client needs at a compressed time scale.
        entry: LogEntry | None = request.scope.get(ENTRY_KEY)
        if entry is not None and entry.window_reset is not None:
            wait = max(0.0, entry.window_reset - time.time())
            with_headers.headers["X-RateLimit-Reset-After"] = f"{wait:.6f}"
        return with_headers

    app.add_exception_handler(RateLimitExceeded, rate_limit_exceeded)

    # The route decorator must sit above the limit decorator (see the write-up).
    @app.get("/chat", dependencies=[Depends(chat_key)])
    @limiter.limit(limit)
    async def chat(request: Request, response: Response) -> Any:
        entry: LogEntry | None = request.scope.get(ENTRY_KEY)
        latency = entry.latency if entry is not None and entry.latency is not None else 0.0
        state["accepted"] += 1
        # With shared storage, count what the whole server accepted.
        count = entry.rank if entry is not None and entry.rank is not None else state["accepted"]
        fault = settings.fault
        if fault.stall_after is not None and count > fault.stall_after:
            await asyncio.Event().wait()  # never set: the request hangs until the client gives up
        await asyncio.sleep(latency)
        if fault.error_rate and state["rng"].random() < fault.error_rate:
            if fault.error_kind == "garbage":  # a proxy's error page, say: 200 but not JSON
                return HTMLResponse("<html><body>upstream hiccup (injected)</body></html>")
            return PlainTextResponse("internal error (injected)", status_code=500)
        return "hello world"

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "now": time.monotonic()}

    @app.get("/log")
    async def log(
        since: int | None = Query(None, ge=0), limit: int = Query(LOG_PAGE, ge=1)
    ) -> Response:
        """Every request since the last reset, in arrival order (`seq` from 0).

        Plain: the whole log, every field of every entry. With `since=N`: the
        entries from `seq` N on, at most `limit`, each without its null
        fields, and `next`, the `since` of the next page (an empty page: the
        end for now). An entry read while its request is in flight can
        still change.
        """
        end = None if since is None else since + limit
        entries: list[Any]
        if shared is not None:
            # Redis round trips and JSON decoding: off the event loop.
            entries = await asyncio.to_thread(shared.log.entries, since or 0, end)
            seed = shared.draws.current_seed(settings.seed)
        else:
            entries = arrival_log.entries[since or 0 : end]
            seed = state["seed"]
        head: dict[str, Any] = {
            "now": time.monotonic(),
            "settings": {**settings_dict(settings), "seed": seed},
        }
        if since is not None:
            head["next"] = since + len(entries)
        return StreamingResponse(
            encode_log(head, entries, compact=since is not None), media_type="application/json"
        )

    @app.post("/reset", response_model=None)
    async def reset(request: Request, seed: int | None = None) -> dict[str, Any] | Response:
        """Clear the log and the limiter's state; reseed the latency draw
        (with `seed`, or with the server's own seed again)."""
        if not same_origin(request.scope):
            return JSONResponse(
                {
                    "error": "POST /reset is taken only from this server's own address: "
                    "send it to the server directly (Host: its address), not from a web page"
                },
                status_code=403,
            )
        seed = settings.seed if seed is None else seed
        limiter.reset()
        state["accepted"] = 0
        arrival_log.clear()
        if shared is not None:
            # Every worker picks up the new seed at its next draw.
            shared.draws.reset(seed)
            shared.log.clear()
        else:
            state["rng"] = random.Random(seed)
        state["seed"] = seed
        openai.reset(seed)
        return {"status": "reset", "seed": seed, "now": time.monotonic()}

    arrival_log = ArrivalLog(
        app, sink=shared.log.save if shared is not None else None, worker=worker
    )
    app.state.arrival_log = arrival_log
    # Inside the endpoints' arrival logs (added after it), so that a 413 is logged.
    app.add_middleware(BodyCap, max_bytes=settings.max_body, error_for=api_error)
    openai.mount(app, arrival_log)

    def forget_warm_up() -> None:
        state["accepted"] = 0
        storage = limiter._storage
        if shared is not None and hasattr(storage, "connection"):
            own = escape_pattern(settings.redis_prefix)  # this server's keys, no other's
            for key in storage.connection.scan_iter(f"{own}:*{WARM_UP_CLIENT}*"):
                storage.connection.delete(key)
        else:
            limiter.reset()

    arrival_log.forget_warm_up = forget_warm_up  # type: ignore[attr-defined]
    return app


WARM_UP_CLIENT = "ratebench-warm-up"


async def warm_up(app: ASGIApp) -> None:
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
        "path": "/chat",
        "raw_path": b"/chat",
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
    getattr(app, "forget_warm_up", lambda: None)()


def api_error(path: str, message: str) -> dict[str, Any]:
    """An error body in the form of the API `path` belongs to."""
    if path.startswith("/v1/"):
        return error_body(message, "invalid_request_error")
    return {"error": message}


def settings_dict(settings: ServerSettings) -> dict[str, Any]:
    return {
        "rate": settings.rate.text,
        "limit": settings.rate.amount,
        "window": settings.rate.window,
        "strategy": settings.strategy,
        "latency": [settings.latency.low, settings.latency.high],
        "seed": settings.seed,
        "time_scale": settings.time_scale,
        "error_rate": settings.fault.error_rate,
        "error_kind": settings.fault.error_kind,
        "stall_after": settings.fault.stall_after,
        "workers": settings.workers,
        "storage": redact(settings.storage),
        "openai": settings.openai.as_dict(),
        # Whether a key is needed, and whose budgets there are; never the keys.
        "api_keys": settings.keys.required,
        "projects": list(settings.keys.names()),
    }


def asgi_app(settings: ServerSettings, worker: int | None = None) -> ASGIApp:
    """The FastAPI app wrapped in its arrival log: what uvicorn serves."""
    app = create_app(settings, worker)
    log: ArrivalLog = app.state.arrival_log
    return log
