"""The app of one worker: every registered API, and what they all share.

Each API of `mock_server.endpoints` mounts its routes on the app. The
server's own routes are the same for all: `GET /health`; `GET /log`, every
request the APIs log, in arrival order, with arrival and departure times on
`time.monotonic()`, which every process on the machine shares, so that
clients can be checked against what the server accepted rather than against
their own word (`GET /log?since=N` reads it a page at a time); `GET
/metrics`, that log counted in Prometheus' text format (`metrics`); and
`POST /reset`. Around them: the arrival log (`Arrivals`) and the body cap
(`hardening.BodyCap`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import redis
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from mock_server.core import (
    ENTRY_KEY,
    ArrivalLog,
    ASGIApp,
    Core,
    MountedEndpoint,
    Receive,
    Scope,
    Send,
    SharedState,
)
from mock_server.endpoints import ENDPOINTS
from mock_server.hardening import BodyCap, same_origin
from mock_server.log import encode_log, stamped_send, watch_client
from mock_server.redis_store import SharedDraws, SharedLog
from mock_server.settings import ServerSettings

LOG_PAGE = 10_000  # entries per page of `GET /log?since=N`, unless `limit` says


class Arrivals:
    """Stamps each request an API logs as it arrives: a pure ASGI middleware
    around the whole app, writing into the worker's `ArrivalLog`.

    Pure ASGI rather than an `@app.middleware("http")` function, so that the
    arrival stamp is taken before any framework work and costs next to nothing
    under load. The entry waits in the scope (`ENTRY_KEY`) for the API's
    route; its status, the instant its last byte left, and a client that
    went early are stamped here.
    """

    def __init__(self, app: ASGIApp, log: ArrivalLog, endpoints: Sequence[MountedEndpoint]) -> None:
        self.app = app
        self.log = log
        self.endpoints = endpoints

    def __repr__(self) -> str:
        return f"<Arrivals {self.log!r}, {len(self.endpoints)} APIs>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = None
        if scope["type"] == "http":
            kind = next(filter(None, (e.entry_kind(scope) for e in self.endpoints)), None)
        if kind is None:
            await self.app(scope, receive, send)
            return
        log = self.log
        entry = kind(seq=len(log.entries), arrival=time.monotonic(), worker=log.worker)
        log.entries.append(entry)
        scope[ENTRY_KEY] = entry
        send_and_stamp = stamped_send(entry, send, log.sink)
        async with watch_client(entry, receive, log.sink) as receive_and_watch:
            await self.app(scope, receive_and_watch, send_and_stamp)


def create_app(settings: ServerSettings, worker: int | None = None) -> FastAPI:
    """The app of one worker process; `worker` is its index with --workers N."""
    shared: SharedState | None = None
    if settings.shared_uri is not None:
        client = redis.Redis.from_url(settings.shared_uri)
        prefix = settings.redis_prefix
        shared = SharedState(
            client, SharedLog(client, prefix), SharedDraws(client, settings.seed, prefix)
        )
    arrival_log = ArrivalLog(sink=shared.log.save if shared is not None else None, worker=worker)
    core = Core(settings, worker, arrival_log, shared)
    state: dict[str, Any] = {"seed": settings.seed}  # as /reset?seed=N last set it
    app = FastAPI(title="ratebench mock LLM endpoint", docs_url=None, redoc_url=None)
    app.state.arrival_log = arrival_log
    # Every API in the registry, mounted in its order.
    mounted = [endpoint.mount(app, core) for endpoint in ENDPOINTS.values()]
    app.state.endpoints = mounted

    async def read_log(start: int, end: int | None) -> list[Any]:
        """Entries `start` to `end` of the log since the last reset (this
        worker's, or every worker's from the shared log)."""
        if shared is not None:
            # Redis round trips and JSON decoding: off the event loop.
            return await asyncio.to_thread(shared.log.entries, start, end)
        return arrival_log.entries[start:end]

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
        entries = await read_log(since or 0, end)
        seed = state["seed"] if shared is None else shared.draws.current_seed(settings.seed)
        head: dict[str, Any] = {
            "now": time.monotonic(),
            "settings": {**settings.as_dict(), "seed": seed},
        }
        if since is not None:
            head["next"] = since + len(entries)
        return StreamingResponse(
            encode_log(head, entries, compact=since is not None), media_type="application/json"
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        """The log since the last reset, counted (see `mock_server.metrics`)."""
        # Imported at the first scrape: a server nobody watches never pays for it.
        from mock_server.metrics import CONTENT_TYPE, metrics_text

        entries = await read_log(0, None)
        text = await asyncio.to_thread(metrics_text, entries)
        return Response(text, media_type=CONTENT_TYPE)

    @app.post("/reset", response_model=None)
    async def reset(request: Request, seed: int | None = None) -> dict[str, Any] | Response:
        """Clear the log and every API's limits; reseed the latency draws
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
        arrival_log.clear()
        if shared is not None:
            # Every worker picks up the new seed at its next draw.
            shared.draws.reset(seed)
            shared.log.clear()
        state["seed"] = seed
        for endpoint in mounted:
            endpoint.reset(seed)
        return {"status": "reset", "seed": seed, "now": time.monotonic()}

    def api_error(path: str, message: str) -> dict[str, Any]:
        """An error body in the form of the API `path` belongs to ({"error":
        message} outside every API)."""
        found = (e.error_for(path, message) for e in mounted)
        return next(filter(None, found), {"error": message})

    # Inside the arrival log, so that a 413 is logged.
    app.add_middleware(BodyCap, max_bytes=settings.max_body, error_for=api_error)
    return app


async def warm_up(app: ASGIApp) -> None:
    """Each API's warm-up request through the whole stack of a fresh worker
    (`asgi_app`'s), before it takes traffic."""
    if isinstance(app, Arrivals):
        for endpoint in app.endpoints:
            await endpoint.warm_up(app)


def asgi_app(settings: ServerSettings, worker: int | None = None) -> ASGIApp:
    """The FastAPI app wrapped in its arrival log: what uvicorn serves."""
    app = create_app(settings, worker)
    return Arrivals(app, app.state.arrival_log, app.state.endpoints)
