"""Client `gemini_sdk_retry`: the official `google-genai` SDK with its retries on.

The SDK retries only when given `HttpRetryOptions`; its docstrings give the
defaults an empty one takes (`_api_client.retry_args`): 5 attempts, the
first included, on 408, 429, 500, 502, 503 and 504, waiting tenacity's
`wait_exponential_jitter(initial=1, max=60, exp_base=2, jitter=1)` between
them: `min(60, 2^(k-1) + uniform(0, 1))` seconds before retry k, so about
1, 2, 4 and 8 s, 15-19 s in all. It reads neither `RetryInfo` nor the
message: a minute's refusal that says "retry in 47s" is retried within a
second, and a day's is retried four times in 19 s. The delays are wall
seconds in the SDK, so here each is multiplied by the time scale (as
`openai_tenacity` scales tenacity's), the schedule the SDK keeps at full scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from google.genai import types

    from clients.infra.attempts import Reply
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "gemini_sdk_retry"
# `HttpRetryOptions()`'s defaults (google-genai `_api_client`): _RETRY_ATTEMPTS,
# _RETRY_INITIAL_DELAY, _RETRY_MAX_DELAY, _RETRY_EXP_BASE, _RETRY_JITTER.
ATTEMPTS, INITIAL, MAX_DELAY, EXP_BASE, JITTER = 5, 1.0, 60.0, 2.0, 1.0

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="SDK retries",
    summary="google-genai client.aio + asyncio.gather + HttpRetryOptions (5 attempts, 1-8 s)",
    explain=(
        "Sends the whole batch at once through the official SDK with its retry options on: "
        "five attempts about 1, 2, 4 and 8 s apart, blind to RetryInfo. A minute's quota "
        "refuses all of them for the requests beyond the first minute's, which are lost."
    ),
    paces=False,
    caps_in_flight=False,
    api="gemini",
)


def retry_options(config: ClientConfig) -> types.HttpRetryOptions:
    """The SDK's defaults, spelled out, their seconds at the run's time scale."""
    from google.genai import types

    return types.HttpRetryOptions(
        attempts=ATTEMPTS,
        initial_delay=config.scaled(INITIAL),
        max_delay=config.scaled(MAX_DELAY),
        exp_base=EXP_BASE,
        jitter=config.scaled(JITTER),
    )


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    from clients.infra.gemini_batch import run_genai_batch

    return run_genai_batch(NAME, config, retry_options(config), on_line)


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it: tenacity's `wait_exponential_jitter` restated, in the
    simulation's seconds (the time scale's)."""
    from clients.infra.virtual import retrying

    scale = batch.config.time_scale

    def wait(retry: int, reply: Reply) -> float:
        jitter = batch.rng.uniform(0, JITTER)
        return max(0.0, min(INITIAL * EXP_BASE ** (retry - 1) + jitter, MAX_DELAY)) * scale

    return [retrying(i, ATTEMPTS, wait) for i in range(len(batch.charges))]
