"""A request set sent through an official SDK (`openai`'s or `anthropic`'s), every
HTTP attempt recorded.

The SDK retries inside one `create` call, so the client never sees its
attempts. A transport wrapped around the SDK's own (`RecordingTransport`)
sees each one: it records an `Attempt` when the whole answer has been read,
so SDK-driven clients give the same records as ours. The request's index
travels in a header of our own (`x-ratebench-request`), which the server
ignores.

`queued` is 0 for a first try (the batch is gathered at once) and the send
itself for a retry: the SDK's sleep before it is not visible from here.
The SDK's own backoff (0.5 s doubling to 8 s, when no `retry-after` came)
is wall time and does not follow the time scale; `retry-after-ms`, which
the server scales, it honours as sent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig
from clients.infra import loglines
from clients.infra.attempts import classify
from clients.infra.llm_batch import ChatRequest, base_url, load_request_set
from clients.infra.recorder import OnLine, Recorder
from clients.infra.records import ClientRun, Outcome
from clients.infra.run_loop import run_loop

if TYPE_CHECKING:
    import httpx2

REQUEST_HEADER = "x-ratebench-request"
# One request with the client's own way of retrying, on the SDK's client.
Call = Callable[[Any, ChatRequest], Awaitable[Any]]
# The SDK's async client for a run: (config, the recording transport, max_retries or None).
MakeSdk = Callable[[ClientConfig, Any, "int | None"], Any]


def make_transport(recorder_of_run: Callable[[], Recorder]) -> httpx2.AsyncBaseTransport:
    """The SDK's own transport (its connection limits, the same in both SDKs; a
    shorter keep-alive: see `llm_batch.KEEPALIVE`), recording every attempt in the
    run's recorder (`recorder_of_run()`, asked at each attempt: the transport is built
    before the run's clock starts)."""
    import httpx2
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    from clients.infra.llm_batch import KEEPALIVE

    limits = httpx2.Limits(
        max_connections=DEFAULT_CONNECTION_LIMITS.max_connections,
        max_keepalive_connections=DEFAULT_CONNECTION_LIMITS.max_keepalive_connections,
        keepalive_expiry=KEEPALIVE,
    )
    transport: httpx2.AsyncBaseTransport = recording_transport(recorder_of_run, httpx2, limits)
    return transport


def recording_transport(
    recorder_of_run: Callable[[], Recorder], http: ModuleType, limits: Any = None
) -> Any:
    """An `AsyncHTTPTransport` of `http` (httpx, or the openai SDK's httpx2: the same
    interface) that records every attempt in the run's recorder, as the module says.
    `limits`: the transport's connection limits (None: the library's, with the
    shorter keep-alive of `llm_batch.KEEPALIVE`)."""
    from clients.infra.llm_batch import KEEPALIVE

    if limits is None:
        limits = http.Limits(keepalive_expiry=KEEPALIVE)
    inner = http.AsyncHTTPTransport(limits=limits)
    tries: Counter[int] = Counter()

    class RecordingTransport(http.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        async def handle_async_request(self, request: Any) -> Any:
            recorder = recorder_of_run()
            index = int(request.headers.get(REQUEST_HEADER, "-1"))
            attempt = tries[index]
            tries[index] += 1
            sent = recorder.now()
            queued = 0.0 if attempt == 0 else sent
            # The SDK retries inside itself and sleeps where we cannot see: its
            # transport only knows when an attempt goes on the wire.
            recorder.sending(index, attempt, sent)
            status: int | None = None
            outcome: Outcome = "error"
            try:
                response = await inner.handle_async_request(request)
                status = response.status_code
                await response.aread()  # the whole answer: when it finished
                outcome = classify(status)
                return response
            except http.TimeoutException:
                outcome = "timeout"
                raise
            except asyncio.CancelledError:  # the run's deadline
                outcome = "timeout"
                raise
            finally:
                if index >= 0:
                    recorder.record(
                        index,
                        attempt,
                        queued=queued,
                        sent=sent,
                        finished=recorder.now(),
                        status=status,
                        outcome=outcome,
                    )

        async def aclose(self) -> None:
            await inner.aclose()

    return RecordingTransport()


def openai_sdk(config: ClientConfig, transport: Any, max_retries: int | None) -> Any:
    """`AsyncOpenAI` at the server's `/v1`, over `transport`."""
    import openai

    http_client = openai.DefaultAsyncHttpxClient(transport=transport)
    options: dict[str, Any] = {} if max_retries is None else {"max_retries": max_retries}
    sdk = openai.AsyncOpenAI(
        # The SDK insists on a key; a server that issued none checks none.
        api_key=config.api_key or "ratebench",
        base_url=base_url(config) + "/v1",
        http_client=http_client,
        timeout=config.scaled(config.request_timeout),
        **options,
    )
    _ = sdk.chat.completions
    return sdk


def run_sdk_batch(
    client: str,
    config: ClientConfig,
    call: Call,
    on_line: OnLine | None = None,
    *,
    max_retries: int | None = None,
    make_sdk: MakeSdk = openai_sdk,
) -> ClientRun:
    """Send the request set with the SDK `make_sdk` builds (`AsyncOpenAI` by default;
    `max_retries`: None for the SDK's default), `asyncio.gather` over every request;
    blocks until done or the deadline."""
    requests = load_request_set(config)
    return run_loop(_run(client, config, requests, call, on_line, max_retries, make_sdk))


async def _run(
    client: str,
    config: ClientConfig,
    requests: list[ChatRequest],
    call: Call,
    on_line: OnLine | None,
    max_retries: int | None,
    make_sdk: MakeSdk,
) -> ClientRun:
    # The SDK and its lazily imported types are set up before the run's clock
    # starts, as the other clients' libraries are imported before theirs: at a
    # compressed time scale their set-up (tenths of a second on a busy machine)
    # would otherwise weigh ten times what it does at full scale.
    run: list[Recorder] = []
    sdk = make_sdk(config, make_transport(lambda: run[0]), max_retries)
    recorder = Recorder(client, config.n, on_line, time_scale=config.time_scale)
    run.append(recorder)
    recorder.line(loglines.start(recorder.scenario_now()))

    async def one(request: ChatRequest) -> bool:
        try:
            await call(sdk, request)
        except Exception:  # the SDK's or the backoff's last error: the request is lost
            recorder.gave_up(request.index, recorder.now())
            return False
        recorder.succeeded(request.index, recorder.now(), "ok")
        return True

    async with sdk:
        try:
            async with asyncio.timeout(config.scaled(config.deadline) - recorder.now()):
                await asyncio.gather(*(one(r) for r in requests))
        except TimeoutError:
            recorder.line(loglines.deadline(recorder.scenario_now(), recorder.result().failed))
    recorder.line(loglines.finish(recorder.scenario_now()))
    return recorder.result()


def create_kwargs(request: ChatRequest) -> dict[str, Any]:
    """`chat.completions.create`'s arguments for one request, tagged with its index."""
    return {**request.body, "extra_headers": {REQUEST_HEADER: str(request.index)}}
