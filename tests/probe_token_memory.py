"""What a large token budget costs the server: `python tests/probe_token_memory.py`.

Starts `python -m mock_server --tpm 100000000` for each strategy (and with
`--redis URL`, on that Redis with two workers), sends 10 requests of
`max_tokens: 5000000` to /v1/chat/completions, then one of 1 token, and
prints the server's RSS (all its processes) before and after and how long
the last request took. Not a test: the figures behind the README's row on
the moving window's memory (tests/unit/test_token_memory.py and
tests/e2e/test_token_memory.py are the tests).
"""

from __future__ import annotations

import argparse
import sys
import time

import psutil
import redis
import requests

from mock_server.processes.server import MockServer
from mock_server.vocabulary import WINDOW_STRATEGIES

URL = "/v1/chat/completions"


def rss_mb(pid: int) -> float:
    parent = psutil.Process(pid)
    procs = [parent, *parent.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 1e6


def body(max_tokens: int) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": max_tokens,
    }


def probe(strategy: str, redis_url: str | None) -> str:
    extra = ("--workers", "2", "--storage", redis_url) if redis_url else ()
    if redis_url is not None:
        redis_mb(redis_url)  # not busy any more
        redis.Redis.from_url(redis_url).flushdb()  # a Redis of the probe's own
    args = (
        "--tpm",
        "100000000",
        "--max-output-tokens",
        "5000000",
        "--ttft",
        "0",
        "--token-time",
        "0",
        *extra,
    )
    with MockServer(strategy=strategy, extra_args=args) as server:
        assert server.process is not None
        url = server.url + URL
        with requests.Session() as session:
            session.post(url, json=body(1), timeout=60)  # first request paid: imports, routes
            before = rss_mb(server.process.pid)
            statuses = [status(session, url, 5_000_000) for _ in range(10)]
            after = rss_mb(server.process.pid)
            start = time.perf_counter()
            last = status(session, url, 1)
            took = time.perf_counter() - start
    where = "redis, 2 workers" if extra else "memory"
    line = (
        f"{strategy:<24} {where:<17} RSS {before:4.0f} -> {after:4.0f} MB, "
        f"1-token request {took * 1000:6.1f} ms (HTTP {last})"
    )
    if statuses != [200] * 10:
        line += f"; the 10 large ones: HTTP {statuses}"
    if redis_url is not None:
        line += f"; Redis used_memory {redis_mb(redis_url):.0f} MB"
    return line


def status(session: requests.Session, url: str, max_tokens: int) -> int | str:
    try:
        return session.post(url, json=body(max_tokens), timeout=120).status_code
    except requests.RequestException as exc:
        return type(exc).__name__


def redis_mb(url: str) -> float:
    client = redis.Redis.from_url(url)
    try:
        for _ in range(600):  # a long Lua script keeps Redis busy
            try:
                return int(client.info("memory")["used_memory"]) / 1e6
            except redis.ResponseError:
                time.sleep(0.5)
        raise RuntimeError(f"Redis at {url} stayed busy")
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis", help="also on this Redis (its database is emptied), with --workers 2"
    )
    parser.add_argument("--strategy", action="append", choices=WINDOW_STRATEGIES)
    args = parser.parse_args()
    for strategy in args.strategy or WINDOW_STRATEGIES:
        print(probe(strategy, None), flush=True)
        if args.redis:
            print(probe(strategy, args.redis), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
