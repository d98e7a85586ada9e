"""The bare libraries: what a batch costs with nothing of ours around it.

`python -m bench load` sets each client's CPU per request beside these, so
that the ratio is the figure: what the harness (the request loop, the
records, the wire stamps, the limiter's hooks) adds to its HTTP library.
Each sends the same request a client sends (a GET whose JSON body is decoded)
to the same server, with the same number in flight and the same connection
pool as the client it stands beside:

- `aiohttp_gather`: the asyncio clients' shape, one session and every
  request as a task at once, `asyncio.gather`ed; the session's pool holds
  `pool` connections (0: no limit), as `ClientConfig.pool` does.
- `requests_pool`: the thread pool's, `workers` threads over the batch, each
  request a `requests.get` (a session, so a connection, of its own, as the
  thread clients' transport opens).

Both raise on a reply other than 200, so that a figure never counts
requests that were not answered. `batch_for` picks the one beside a client.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import requests

from clients.config import ClientConfig
from clients.spec import ClientSpec


def aiohttp_gather(url: str, n: int, pool: int, timeout: float = 60.0) -> None:
    """GET `url` `n` times, all at once on one session of `pool` connections;
    blocks until every reply's body is decoded."""

    async def batch() -> None:
        connector = aiohttp.TCPConnector(limit=pool)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as session:

            async def one() -> object:
                async with session.get(url) as response:
                    response.raise_for_status()
                    return await response.json()

            await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(batch())


def requests_pool(url: str, n: int, workers: int, timeout: float = 60.0) -> None:
    """GET `url` `n` times on a pool of `workers` threads, `requests.get` each;
    blocks until every reply's body is decoded."""

    def one(_: int) -> object:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        return response.json()

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, range(n)):
            pass


def batch_for(spec: ClientSpec, config: ClientConfig) -> tuple[str, Callable[[], None]]:
    """The batch `spec`'s client sends on `config` (`config.n` GETs of
    `config.url`), sent by its bare library alone with the same requests in
    flight and the same pool; and a few words saying what it is.

    asyncio: every request at once, a pool of `config.pool`; threads: a pool of
    `config.workers` threads for a client that caps its requests in flight, else
    one thread a request. Other clients have no bare loop here.
    """
    n, timeout = config.n, config.scaled(config.request_timeout)
    if spec.concurrency == "asyncio":
        pool = f"a pool of {config.pool}" if config.pool else "an unlimited pool"
        return (
            f"aiohttp alone, {n} at once on {pool}",
            functools.partial(aiohttp_gather, config.url, n, config.pool, timeout),
        )
    if spec.concurrency == "threads":
        workers = min(config.workers, n) if spec.caps_in_flight else n
        return (
            f"requests alone, {workers} threads",
            functools.partial(requests_pool, config.url, n, workers, timeout),
        )
    raise ValueError(f"no bare loop for {spec.name} ({spec.concurrency})")
