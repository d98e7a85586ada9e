"""A request set sent to Gemini's `generateContent`: what its clients share.

Two ways to send it:

- `run_gemini_batch`: our own request loop (`clients.infra.loop`) over aiohttp,
  every request a task at once, each through the policy's limiter
  (`clients.infra.llm_batch.run_tasks`, shared with the other LLM
  endpoints' clients), the key in `x-goog-api-key`;
- `run_genai_batch`: the official `google-genai` SDK (`client.aio.models.
  generate_content`), gathered, its retries its own (`HttpRetryOptions`, or
  none: its default), every HTTP attempt recorded by an httpx2 transport wrapped
  around the SDK's (`clients.infra.sdk_batch.recording_transport`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.gemini_request_set import GeminiRequest, load_request_set
from clients.infra.llm_batch import base_url
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun
from clients.infra.run_loop import run_loop
from clients.infra.sdk_batch import REQUEST_HEADER, recording_transport
from clients.limiters.base import Limiter

if TYPE_CHECKING:
    import aiohttp
    from google.genai import types

    from clients.infra.attempts import Reply

GeminiLimiterFor = Callable[[GeminiRequest], Limiter]


def run_gemini_batch(
    client: str,
    config: ClientConfig,
    make_limiters: Callable[[ClientConfig], GeminiLimiterFor],
    on_line: OnLine | None = None,
) -> ClientRun:
    """Send the request set, every request as a task at once, each through its limiter;
    blocks until done or the deadline passed."""
    from clients.infra.llm_batch import run_tasks
    from clients.transports import gemini_send

    requests = load_request_set(config)
    base = base_url(config)

    def post(session: aiohttp.ClientSession, request: GeminiRequest) -> Awaitable[Reply]:
        return gemini_send.send(
            session, gemini_send.generate_url(base, request.model), request.body
        )

    headers = gemini_send.key_headers(config.api_key)
    return run_loop(run_tasks(client, config, requests, make_limiters, post, headers, on_line))


def generate_config(
    request: GeminiRequest, retry: types.HttpRetryOptions | None
) -> types.GenerateContentConfig:
    """The SDK's config for one request: its body's generationConfig and
    systemInstruction, and the header that carries its index to the recorder."""
    from google.genai import types

    generation: dict[str, Any] = dict(request.body.get("generationConfig") or {})
    fields = {
        "max_output_tokens": generation.get("maxOutputTokens"),
        "temperature": generation.get("temperature"),
        "candidate_count": generation.get("candidateCount"),
        "system_instruction": request.body.get("systemInstruction"),
    }
    options = types.HttpOptions(headers={REQUEST_HEADER: str(request.index)}, retry_options=retry)
    return types.GenerateContentConfig(
        **{k: v for k, v in fields.items() if v is not None}, http_options=options
    )


def run_genai_batch(
    client: str,
    config: ClientConfig,
    retry: types.HttpRetryOptions | None,
    on_line: OnLine | None = None,
) -> ClientRun:
    """Send the request set through `google.genai.Client(...).aio`, `asyncio.gather`
    over every request, `retry` its HttpRetryOptions (None: the SDK's default, one
    attempt); blocks until done or the deadline."""
    requests = load_request_set(config)
    return run_loop(_run_genai(client, config, requests, retry, on_line))


async def _run_genai(
    client: str,
    config: ClientConfig,
    requests: list[GeminiRequest],
    retry: types.HttpRetryOptions | None,
    on_line: OnLine | None,
) -> ClientRun:
    import httpx2
    from google import genai
    from google.genai import types

    from clients.transports.gemini_send import PLACEHOLDER_KEY

    # The SDK is set up before the run's clock starts, as every client's libraries are.
    run: list[Recorder] = []
    transport = recording_transport(lambda: run[0], httpx2)
    # Ours to close: the SDK closes only the clients it made itself.
    http_client = httpx2.AsyncClient(transport=transport)
    sdk = genai.Client(
        api_key=config.api_key or PLACEHOLDER_KEY,
        http_options=types.HttpOptions(
            base_url=base_url(config),
            timeout=round(config.scaled(config.request_timeout) * 1000),
            httpx_async_client=http_client,
            retry_options=retry,
        ),
    )
    configs = {r.index: generate_config(r, retry) for r in requests}
    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    run.append(recorder)
    recorder.line(loglines.start(recorder.scenario_now()))

    async def one(request: GeminiRequest) -> bool:
        try:
            await sdk.aio.models.generate_content(
                model=request.model,
                contents=request.body["contents"],
                config=configs[request.index],
            )
        except Exception:  # the SDK's last error (its APIError on a 429): the request is lost
            recorder.gave_up(request.index, recorder.now())
            return False
        recorder.succeeded(request.index, recorder.now(), "ok")
        return True

    try:
        async with asyncio.timeout(config.scaled(config.deadline) - recorder.now()):
            await asyncio.gather(*(one(r) for r in requests))
    except TimeoutError:
        recorder.line(loglines.deadline(recorder.scenario_now(), recorder.result().failed))
    finally:
        await sdk.aio.aclose()
        await http_client.aclose()
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()
