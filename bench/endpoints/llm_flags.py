"""The bench's flags that several LLM APIs read, added once, each read by the APIs
that have that limit (as the server's "LLM limits" group,
`mock_server.endpoints.llm_limits`).

`--rpm` sets requests per minute on every API that has it, `--tpm` OpenAI's
tokens per minute, `--itpm` and `--otpm` Anthropic's input and output
tokens per minute; `--requests FILE` and `--ratelimit-headers` mean the same
on each. An endpoint names the ones it reads (`Endpoint.llm_flags`); one the
chosen `--api` does not read is one line naming the API that does.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from clients.infra.request_set import RequestSetError
from mock_server.vocabulary import UsageError

#: Each shared flag's argument name and its help, `{apis}` the APIs that read it.
LLM_FLAGS: dict[str, str] = {
    "rpm": "with --api {apis}: requests per minute (default: {defaults})",
    "tpm": "with --api {apis}: tokens per minute, charged as prompt + max_tokens "
    "(default: {defaults})",
    "itpm": "with --api {apis}: input tokens per minute (default: {defaults})",
    "otpm": "with --api {apis}: output tokens per minute (default: {defaults})",
    "requests": "with --api {apis}: the request set every client sends, in the API's body "
    "format (`python -m bench requests --api API`); default: a seeded set of -n requests",
    "headers": "with --api {apis}: whether the server sends its rate-limit headers "
    "(default: it does); with --no-ratelimit-headers a client that learns the limits "
    "(header_adaptive) has only the 429s' bodies to go by",
}


def add_llm_arguments(
    parser: argparse.ArgumentParser,
    reads: Mapping[str, Sequence[str]],
    defaults: Mapping[str, Mapping[str, int]],
) -> None:
    """The shared flags some endpoint reads (`reads`: each API's `llm_flags`), once each;
    `defaults`: each API's own limits (the server's `limit_defaults`), for the help."""
    for dest, template in LLM_FLAGS.items():
        apis = [api for api, flags in reads.items() if dest in flags]
        if not apis:
            continue
        shown = " or ".join(apis)
        given = ", ".join(
            f"{api} {defaults[api][dest]:,}" for api in apis if dest in defaults.get(api, {})
        )
        words = template.replace("{defaults}", given)
        if dest == "requests":
            parser.add_argument(
                "--requests", default=None, metavar="FILE", help=words.format(apis=shown)
            )
        elif dest == "headers":
            parser.add_argument(
                "--ratelimit-headers",
                dest="headers",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=words.format(apis=shown),
            )
        else:
            parser.add_argument(f"--{dest}", type=int, default=None, help=words.format(apis=shown))


def given_llm_flags(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(argument name, the flag as typed) of every shared flag `args` set."""
    given: list[tuple[str, str]] = []
    for dest in LLM_FLAGS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest == "headers":
            given.append((dest, "--ratelimit-headers" if value else "--no-ratelimit-headers"))
        else:
            given.append((dest, f"--{dest}"))
    return given


def check_limits(args: argparse.Namespace, flags: Sequence[str]) -> None:
    """UsageError for a limit flag that allows nothing."""
    for flag in flags:
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            raise UsageError(f"--{flag} {value} allows nothing: use at least 1")


def request_set_from_args(args: argparse.Namespace, n: int, api: str) -> tuple[str | None, int]:
    """(the `--requests` file, resolved, or None; the batch's size): the file checked
    line by line as `api`'s server checks a body, -n at most its length (its
    length when -n is not given)."""
    from bench.records.requests_file import read_requests

    if args.requests is None:
        return None, n
    path = Path(args.requests)
    if not path.is_file():
        raise UsageError(
            f"--requests {path}: no such file (write one with "
            f"`python -m bench requests --api {api}`)"
        )
    try:
        lines = len(read_requests(path, api))
    except RequestSetError as exc:
        raise UsageError(str(exc)) from None
    if args.n is not None and args.n > lines:
        raise UsageError(f"-n {args.n} is more than the {lines} requests in {path}")
    return str(path.resolve()), lines if args.n is None else args.n
