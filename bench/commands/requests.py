"""`python -m bench requests`: write a seeded request set for /v1/chat/completions.

The set itself (its format, its distributions) is `bench.requests_file`; this
is its command line.
"""

from __future__ import annotations

from pathlib import Path

from bench.requests_file import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_PROMPT_TOKENS,
    MIN_PROMPT_TOKENS,
    make_requests,
    parse_distribution,
    write_requests,
)
from clients.infra.oneline import OneLineParser, UsageError, fail

DISTRIBUTIONS = (
    "fixed:N (always N), uniform:LOW-HIGH (each whole number equally likely), "
    "lognormal:MEDIAN,SIGMA (round(exp(N(ln MEDIAN, SIGMA))): most short, a few long)"
)


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m bench requests",
        description=(
            "Write a JSONL request set for /v1/chat/completions in the OpenAI cookbook's "
            "batch format: one request body per line, with metadata {request, prompt_tokens, "
            "charge} (charge: the tokens the server counts against the TPM at admission). "
            "Prompt tokens and max_tokens are drawn, seeded, from named distributions: "
            f"{DISTRIBUTIONS}. The same --seed writes the same file."
        ),
    )
    parser.add_argument("--n", type=int, required=True, help="how many requests")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument(
        "--prompt-tokens",
        default=DEFAULT_PROMPT_TOKENS,
        metavar="DISTRIBUTION",
        help=f"prompt tokens as the server estimates them, at least {MIN_PROMPT_TOKENS}: "
        f"fixed:N, uniform:LOW-HIGH or lognormal:MEDIAN,SIGMA "
        f"(default: {DEFAULT_PROMPT_TOKENS})",
    )
    parser.add_argument(
        "--max-tokens",
        default=DEFAULT_MAX_TOKENS,
        metavar="DISTRIBUTION",
        help="max_tokens of each request, at least 1: fixed:N, uniform:LOW-HIGH or "
        f"lognormal:MEDIAN,SIGMA (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"the model named (default: {DEFAULT_MODEL})"
    )
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.n < 1:
            raise UsageError(f"--n {args.n} must be at least 1")
        prompt = parse_distribution(args.prompt_tokens, "--prompt-tokens")
        answer = parse_distribution(args.max_tokens, "--max-tokens")
        bodies = make_requests(args.n, args.seed, prompt, answer, args.model)
        try:
            write_requests(args.out, bodies)
        except OSError as exc:
            raise UsageError(f"cannot write --out {args.out}: {exc.strerror}") from None
    except UsageError as exc:
        fail(str(exc))
    charges = [b["metadata"]["charge"] for b in bodies]
    print(
        f"wrote {len(bodies)} requests to {args.out}: prompt tokens {prompt}, max_tokens "
        f"{answer}, seed {args.seed}; charges {min(charges)}..{max(charges)}, "
        f"{sum(charges)} in all"
    )
    return 0
