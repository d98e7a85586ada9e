"""The LLM endpoints as a client meets them: one small interface, one object per API.

A client that serves several APIs (`budget_window`, `header_adaptive`) never
asks which one it runs against: it asks `api_for(config)` for

- `path`, `headers(config)`, `send`: where and how one attempt goes
  (`clients.transports.openai_send`, `clients.transports.anthropic_send`);
- `limit_names`, `told(config)`: the API's limits, by the names its
  transport's `Learned` uses, and the amounts a client was told (None: not
  told); every one is a number per minute;
- `costs(body, metadata)`: what one request of the set draws on each
  limit, in `limit_names`' order, as the server charges it at admission
  (the request set's metadata, written by `python -m bench requests`, holds
  the server's own count);
- `needs(costs, config)`, `charged(costs, config)`, `after(costs, reply,
  config)`: what a request needs in each bucket to be admitted, what it is
  charged then, and what its answer is charged once in (Anthropic's output
  tokens counted as produced: one token needed, nothing charged at
  admission, the answer's `usage.output_tokens` once produced);
- `check_line`: a request-set line checked as that API's server checks a
  body.

OpenAI's two limits are requests and tokens (the prompt plus `max_tokens`,
at admission); Anthropic's three are requests, input tokens (at admission)
and output tokens (`max_tokens` at admission, or as produced).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from clients.config import ClientConfig, ConfigError
from clients.infra.attempts import Reply

if TYPE_CHECKING:
    import aiohttp

Send = Callable[["aiohttp.ClientSession", str, Mapping[str, Any]], Awaitable[Reply]]
Costs = tuple[int, ...]


class LLMApi(Protocol):
    """One LLM endpoint, as a client that serves several sees it."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def limit_names(self) -> tuple[str, ...]: ...

    def headers(self, config: ClientConfig) -> dict[str, str]: ...

    def send(
        self, session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]
    ) -> Awaitable[Reply]: ...

    def told(self, config: ClientConfig) -> tuple[int | None, ...]: ...

    def costs(self, body: Mapping[str, Any], metadata: Mapping[str, Any]) -> Costs | None: ...

    def needs(self, costs: Costs, config: ClientConfig) -> Costs: ...

    def charged(self, costs: Costs, config: ClientConfig) -> Costs: ...

    def after(self, costs: Costs, reply: Reply, config: ClientConfig) -> Costs: ...

    def check_line(self, line: str) -> dict[str, Any]: ...


def _charge(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


class OneTokenLimitAtAdmission:
    """An API limited in requests and one kind of tokens, both charged whole when a
    request is admitted and never after (OpenAI's prompt plus `max_tokens`, Gemini's
    input tokens): the request set's `metadata.charge` is the server's own count."""

    __slots__ = ()

    def costs(self, body: Mapping[str, Any], metadata: Mapping[str, Any]) -> Costs | None:
        charge = _charge(metadata, "charge")
        return None if charge is None else (1, charge)

    def needs(self, costs: Costs, config: ClientConfig) -> Costs:
        return costs

    def charged(self, costs: Costs, config: ClientConfig) -> Costs:
        return costs

    def after(self, costs: Costs, reply: Reply, config: ClientConfig) -> Costs:
        return (0, 0)


@dataclass(frozen=True, slots=True)
class OpenAIApi(OneTokenLimitAtAdmission):
    """`POST /v1/chat/completions`: requests and tokens (prompt + max_tokens) per minute."""

    name: str = "openai"
    path: str = "/v1/chat/completions"
    limit_names: tuple[str, ...] = ("requests", "tokens")

    def headers(self, config: ClientConfig) -> dict[str, str]:
        return config.auth_headers

    def send(
        self, session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]
    ) -> Awaitable[Reply]:
        from clients.transports import openai_send

        return openai_send.send(session, url, body)

    def told(self, config: ClientConfig) -> tuple[int | None, ...]:
        return (config.rpm, config.tpm)

    def check_line(self, line: str) -> dict[str, Any]:
        from clients.infra.request_set import check_openai_line

        return check_openai_line(line)


@dataclass(frozen=True, slots=True)
class AnthropicApi:
    """`POST /v1/messages`: requests, input tokens and output tokens per minute."""

    name: str = "anthropic"
    path: str = "/v1/messages"
    limit_names: tuple[str, ...] = ("requests", "input_tokens", "output_tokens")

    def headers(self, config: ClientConfig) -> dict[str, str]:
        from clients.transports.anthropic_send import request_headers

        return request_headers(config.api_key)

    def send(
        self, session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]
    ) -> Awaitable[Reply]:
        from clients.transports import anthropic_send

        return anthropic_send.send(session, url, body)

    def told(self, config: ClientConfig) -> tuple[int | None, ...]:
        return (config.rpm, config.itpm, config.otpm)

    def costs(self, body: Mapping[str, Any], metadata: Mapping[str, Any]) -> Costs | None:
        charge = _charge(metadata, "input_tokens")
        # max_tokens: what the server charges at admission under --otpm-charge
        # max-tokens, and the most an answer can produce.
        return None if charge is None else (1, charge, int(body.get("max_tokens") or 0))

    def needs(self, costs: Costs, config: ClientConfig) -> Costs:
        if config.otpm_charge == "produced":
            return (costs[0], costs[1], 1)  # one output token in the bucket
        return costs

    def charged(self, costs: Costs, config: ClientConfig) -> Costs:
        if config.otpm_charge == "produced":
            return (costs[0], costs[1], 0)
        return costs

    def after(self, costs: Costs, reply: Reply, config: ClientConfig) -> Costs:
        if config.otpm_charge != "produced" or reply.outcome != "ok":
            return (0, 0, 0)
        usage = reply.body.get("usage") if isinstance(reply.body, Mapping) else None
        produced = usage.get("output_tokens") if isinstance(usage, Mapping) else None
        return (0, 0, produced if isinstance(produced, int) and produced > 0 else 0)

    def check_line(self, line: str) -> dict[str, Any]:
        from clients.infra.request_set import check_anthropic_line

        return check_anthropic_line(line)


@dataclass(frozen=True, slots=True)
class GeminiApi(OneTokenLimitAtAdmission):
    """Gemini's `generateContent`: requests and input tokens per minute (and requests
    per day, which a per-minute interface does not hold: the Gemini clients keep it,
    `clients.catalog.gemini_budget`). The model is in the path: the set's default."""

    name: str = "gemini"
    path: str = "/v1beta/models/gemini-2.5-flash:generateContent"
    limit_names: tuple[str, ...] = ("requests", "input_tokens")

    def headers(self, config: ClientConfig) -> dict[str, str]:
        from clients.transports.gemini_send import key_headers

        return key_headers(config.api_key)

    def send(
        self, session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]
    ) -> Awaitable[Reply]:
        from clients.transports import gemini_send

        return gemini_send.send(session, url, body)

    def told(self, config: ClientConfig) -> tuple[int | None, ...]:
        return (config.rpm, config.itpm)

    def check_line(self, line: str) -> dict[str, Any]:
        from clients.infra.gemini_request_set import check_line

        return check_line(line)


_EACH: tuple[LLMApi, ...] = (OpenAIApi(), AnthropicApi(), GeminiApi())
APIS: dict[str, LLMApi] = {api.name: api for api in _EACH}


def api_named(name: str) -> LLMApi:
    """The interface of API `name`; ConfigError for one that is no LLM API."""
    if name not in APIS:
        raise ConfigError(f"api {name!r} is no LLM API: use one of {', '.join(APIS)}")
    return APIS[name]


def api_for(config: ClientConfig) -> LLMApi:
    """The LLM API a batch goes to: `config.api` (the write-up's `/chat` clients
    have none; a config of theirs is taken for OpenAI's, as before the interface)."""
    return APIS.get(config.api, APIS["openai"])
