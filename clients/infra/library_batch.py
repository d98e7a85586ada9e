"""A batch sent through a library's own limiter, on either endpoint.

The leaderboard's pure limiters (`clients/catalog/lib_*.py` whose policy is
"library limiter") each give a `library_calls(config)`: the lines a user
writes, which build the library's limiter and return the coroutine function
to await before a call (with the call's token charge on the OpenAI
endpoint). Everything else is the bench's own request loop: every request as
a task at once, the limiter awaited before every attempt (retries included),
the bench's retry schedule after a 429 (`clients.infra.retry`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.limiters.base import Limiter

#: `library_calls` of a /chat client: the wait before one call.
ChatCalls = Callable[[ClientConfig], Callable[[], Awaitable[object]]]
#: `library_calls` of an OpenAI-endpoint client: the wait before a call of `charge` tokens.
CompletionCalls = Callable[[ClientConfig], Callable[[int], Awaitable[object]]]


def run_chat(
    name: str, config: ClientConfig, calls: ChatCalls, on_line: OnLine | None = None
) -> ClientRun:
    """The /chat batch, each attempt waiting on the library; blocks until done."""
    from clients.infra.async_batch import run_async_batch
    from clients.limiters.library import LibraryLimiter

    # Built inside the run, on its event loop: some libraries start tasks of their own.
    return run_async_batch(name, config, lambda c: LibraryLimiter(calls(c)), on_line)


def run_completions(
    name: str, config: ClientConfig, calls: CompletionCalls, on_line: OnLine | None = None
) -> ClientRun:
    """The request set, each attempt waiting on the library with its request's
    charge (the set's `metadata.charge`, prompt plus max_tokens); blocks until done."""
    from clients.infra.llm_batch import ChatRequest, LimiterFor, run_llm_batch
    from clients.limiters.library import LibraryLimiter

    def make_limiters(config: ClientConfig) -> LimiterFor:
        acquire = calls(config)

        def limiter_for(request: ChatRequest) -> Limiter:
            return LibraryLimiter(
                functools.partial(acquire, charge(name, request.index, request.charge))
            )

        return limiter_for

    return run_llm_batch(name, config, make_limiters, on_line)


def charge(name: str, index: int, given: int | None) -> int:
    """A request's token charge; ConfigError if the request set gives none."""
    if given is None:
        raise ConfigError(
            f"{name} tells its library each request's tokens: request {index} has no "
            "metadata.charge (write the set with `python -m bench requests`)"
        )
    return given


def minute(config: ClientConfig) -> float:
    """A minute in wall seconds at the config's time scale."""
    from mock_server.vocabulary import MINUTE

    return config.scaled(MINUTE)


def told(name: str, config: ClientConfig) -> tuple[int, int]:
    """The requests and tokens per minute the client was told; ConfigError if not both."""
    if config.rpm is None or config.tpm is None:
        raise ConfigError(f"{name} must be told the limits: set rpm and tpm")
    return config.rpm, config.tpm
