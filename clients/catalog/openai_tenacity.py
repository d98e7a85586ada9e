"""Client `openai_tenacity`: the OpenAI cookbook's "How to handle rate limits" recipe.

The SDK's own retries off (`max_retries=0`); each `create` wrapped in
tenacity's `@retry(wait=wait_random_exponential(min=1, max=60),
stop=stop_after_attempt(6))`, exactly as the cookbook writes it, the
seconds multiplied by the time scale. It reads no header: after a 429 it
sleeps a random time up to 1, 2, 4, 8, 16 s (at least 1), whatever the
server said, and after the sixth refusal the request is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import openai

    from clients.infra.attempts import Reply
    from clients.infra.llm_batch import ChatRequest
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "openai_tenacity"
MIN_WAIT, MAX_WAIT, ATTEMPTS = 1.0, 60.0, 6
MULTIPLIER = 1.0  # tenacity's default: the window's top doubles from 1 s

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="random exponential backoff",
    summary="AsyncOpenAI (no SDK retries) + tenacity random exponential backoff, 6 attempts",
    explain=(
        "The cookbook's recipe: the whole batch at once, each refused request sleeping a "
        "random time that doubles from 1 s (up to 60 s) before trying again, six attempts in "
        "all. Random waits spread the retries out but ignore the server's retry-after, so the "
        "minute's budget is used late and unevenly."
    ),
    paces=False,
    caps_in_flight=False,
    api="openai",
    library="tenacity",
)


def make_call(config: ClientConfig) -> Callable[[openai.AsyncOpenAI, ChatRequest], Awaitable[Any]]:
    from tenacity import retry, stop_after_attempt, wait_random_exponential

    from clients.infra.sdk_batch import create_kwargs

    @retry(
        # The multiplier (tenacity's default 1 s) is scaled too: at time scale 0.1 the
        # waits were up to 1, 2, 4, 6, 6 wall seconds, ten times the recipe's.
        wait=wait_random_exponential(
            multiplier=config.scaled(MULTIPLIER),
            min=config.scaled(MIN_WAIT),
            max=config.scaled(MAX_WAIT),
        ),
        stop=stop_after_attempt(ATTEMPTS),
    )
    async def completion_with_backoff(sdk: openai.AsyncOpenAI, request: ChatRequest) -> Any:
        return await sdk.chat.completions.create(**create_kwargs(request))

    return completion_with_backoff


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.sdk_batch import run_sdk_batch

    return run_sdk_batch(NAME, config, make_call(config), on_line, max_retries=0)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): tenacity's policy restated, six
    attempts, the k-th wait uniform between 1 s and min(2^(k-1), 60) s, scaled."""
    from clients.infra.virtual import retrying

    low, top, unit = (batch.config.scaled(x) for x in (MIN_WAIT, MAX_WAIT, MULTIPLIER))

    def wait(retry: int, reply: Reply) -> float:
        return batch.rng.uniform(low, max(low, min(unit * 2.0 ** (retry - 1), top)))

    return [retrying(i, ATTEMPTS, wait) for i in range(len(batch.charges))]
