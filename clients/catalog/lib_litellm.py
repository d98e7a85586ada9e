"""Client `lib_litellm`: LiteLLM's `Router`, told the limits per deployment, checked per call.

As LiteLLM documents it (https://docs.litellm.ai/docs/routing, "rpm"/"tpm"
in a deployment's `litellm_params`; https://docs.litellm.ai/docs/proxy/io_token_rate_limits
and the package's `model_rate_limit_check`: "Enforce TPM/RPM ... set on
model deployments ... when enabled via optional_pre_call_checks:
["enforce_model_rate_limits"]"): one deployment of the model at this
server, told its `rpm` and `tpm`, that pre-call check on, everything else
LiteLLM's default (`num_retries` 2, simple shuffle), and per request
`await router.acompletion(**body)`. The OpenAI SDK client it calls through
is ours only so that every HTTP attempt is recorded
(`clients.infra.sdk_batch`); the Router's own retries and limits decide.

What its code does, read in `litellm/router_utils/pre_call_checks/`: it
counts requests, and tokens as the responses report them, under a key of the
wall clock's minute (`%H-%M`), so its windows are the clock's minutes, not
the time scale's: at a time scale other than 1 its limits are a wall minute
long and its figures are not its own. The model cost map is read from the
package (`LITELLM_LOCAL_MODEL_COST_MAP`): at import LiteLLM otherwise fetches
it from the network, which this bench has none of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clients.config import ClientConfig, ConfigError
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import openai

    from clients.infra.llm_batch import ChatRequest

NAME = "lib_litellm"

SPEC = ClientSpec(
    name=NAME,
    concurrency="asyncio",
    policy="library client",
    summary="LiteLLM Router, rpm/tpm on the deployment, enforce_model_rate_limits pre-call check",
    explain=(
        "LiteLLM's Router counts each deployment's requests, and the tokens its answers "
        "report, per minute of the wall clock: a call over the RPM is held until the next "
        "clock minute, while the tokens are counted only once answered, so a batch at once "
        "passes the TPM check before any token is counted. A 429 from the server it retries "
        "itself (num_retries 2)."
    ),
    paces=True,
    caps_in_flight=False,
    no_model="LiteLLM's Router is a library's code; the simulator runs only ours",
    api="openai",
    library="litellm",
)


def library_calls(
    config: ClientConfig, model: str
) -> Callable[[openai.AsyncOpenAI, ChatRequest], Awaitable[Any]]:
    from litellm.router import Router

    from clients.infra.library_batch import told
    from clients.infra.llm_batch import base_url
    from clients.infra.sdk_batch import create_kwargs

    rpm, tpm = told(NAME, config)
    deployment = {
        "model": f"openai/{model}",
        "api_base": base_url(config) + "/v1",
        "api_key": config.api_key or "ratebench",
        "rpm": rpm,
        "tpm": tpm,
    }
    router = Router(
        model_list=[{"model_name": model, "litellm_params": deployment}],
        optional_pre_call_checks=["enforce_model_rate_limits"],
    )

    async def call(sdk: openai.AsyncOpenAI, request: ChatRequest) -> Any:
        return await router.acompletion(**create_kwargs(request), client=sdk)

    return call


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the request set; blocks until every request finished or was lost."""
    import logging
    import os
    import warnings

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    from clients.infra.llm_batch import load_request_set
    from clients.infra.sdk_batch import run_sdk_batch

    # As its own load-test page sets it: no banner, no debug lines per failure.
    litellm.suppress_debug_info = True
    # A call cancelled by the run's deadline (or the bench's dry run) leaves the
    # provider's inner coroutine unawaited, and Python says so on stderr each time.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited")
    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)
    models = {str(r.body.get("model")) for r in load_request_set(config)}
    if len(models) != 1:
        raise ConfigError(f"{NAME} routes one model: the request set names {sorted(models)}")
    # The Router is built before the batch's clock starts (it takes a second or two).
    call = library_calls(config, models.pop())
    return run_sdk_batch(NAME, config, call, on_line)
