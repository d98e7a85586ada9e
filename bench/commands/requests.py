"""`python -m bench requests`: write a seeded request set for /v1/chat/completions (or,
with `--api anthropic`, for Anthropic's /v1/messages; with `--api gemini`, for Gemini's
generateContent).

The set itself (its format, its distributions) is `bench.records.requests_file`
(Gemini's body format: `bench.endpoints.gemini.requests`); this is its command line.
"""

from __future__ import annotations

from pathlib import Path

from bench.endpoints.gemini.requests import make_requests as make_gemini_requests
from bench.records.requests_file import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_PROMPT_TOKENS,
    MAX_REQUESTS,
    MAX_TOKENS,
    MIN_PROMPT_TOKENS,
    make_requests,
    parse_distribution,
    write_requests,
)
from clients.infra.gemini_request_set import DEFAULT_MODEL as GEMINI_MODEL
from mock_server.vocabulary import OneLineParser, UsageError, fail

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
            "charge} (charge: the tokens the server counts against the TPM at admission); "
            "with --api anthropic, Messages bodies for /v1/messages with metadata {request, "
            "input_tokens} (what count_tokens answers, charged against the ITPM). "
            "Prompt tokens and max_tokens are drawn, seeded, from named distributions: "
            f"{DISTRIBUTIONS}. The same --seed writes the same file."
        ),
    )
    parser.add_argument(
        "--n", type=int, required=True, help=f"how many requests, at most {MAX_REQUESTS}"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument(
        "--prompt-tokens",
        default=DEFAULT_PROMPT_TOKENS,
        metavar="DISTRIBUTION",
        help=f"prompt tokens as the server estimates them, {MIN_PROMPT_TOKENS} to {MAX_TOKENS}: "
        f"fixed:N, uniform:LOW-HIGH or lognormal:MEDIAN,SIGMA "
        f"(default: {DEFAULT_PROMPT_TOKENS})",
    )
    parser.add_argument(
        "--max-tokens",
        default=DEFAULT_MAX_TOKENS,
        metavar="DISTRIBUTION",
        help=f"max_tokens of each request, 1 to {MAX_TOKENS}: fixed:N, uniform:LOW-HIGH or "
        f"lognormal:MEDIAN,SIGMA (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--model",
        default=None,
        help=f"the model named (default: {DEFAULT_MODEL}; with --api gemini, {GEMINI_MODEL})",
    )
    parser.add_argument(
        "--api",
        choices=("openai", "anthropic", "gemini"),
        default="openai",
        help="the body format: openai (/v1/chat/completions, metadata {request, "
        "prompt_tokens, charge}), anthropic (/v1/messages, metadata {request, "
        "input_tokens}: what count_tokens answers, charged against the ITPM) or gemini "
        "(generateContent's contents and generationConfig.maxOutputTokens, metadata "
        "{request, model, prompt_tokens, charge}: the input tokens, charged against the "
        "ITPM) (default: openai)",
    )
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 1 <= args.n <= MAX_REQUESTS:
            raise UsageError(f"--n {args.n} must be between 1 and {MAX_REQUESTS} requests")
        prompt = parse_distribution(args.prompt_tokens, "--prompt-tokens", MIN_PROMPT_TOKENS)
        answer = parse_distribution(args.max_tokens, "--max-tokens")
        if args.api == "gemini":
            prompt = parse_distribution(args.prompt_tokens, "--prompt-tokens")
            bodies = make_gemini_requests(
                args.n, args.seed, prompt, answer, args.model or GEMINI_MODEL
            )
        else:
            model = args.model or DEFAULT_MODEL
            bodies = make_requests(args.n, args.seed, prompt, answer, model, args.api)
        try:
            write_requests(args.out, bodies)
        except OSError as exc:
            raise UsageError(f"cannot write --out {args.out}: {exc.strerror}") from None
    except UsageError as exc:
        fail(str(exc))

    def used(key: str) -> str:
        if key != "max_tokens":
            values = [b["metadata"][key] for b in bodies]
        elif args.api == "gemini":
            values = [b["generationConfig"]["maxOutputTokens"] for b in bodies]
        else:
            values = [b[key] for b in bodies]
        return f"{min(values)}..{max(values)}"

    # What the set holds, beside what was asked: a lognormal's tails are kept
    # within the limits, and a reader should not have to open the file to see it.
    if args.api == "anthropic":
        inputs = [b["metadata"]["input_tokens"] for b in bodies]
        outputs = [b["max_tokens"] for b in bodies]
        print(
            f"wrote {len(bodies)} requests to {args.out}: input tokens {prompt} "
            f"({min(inputs)}..{max(inputs)}, {sum(inputs)} in all), max_tokens {answer} "
            f"({min(outputs)}..{max(outputs)}, {sum(outputs)} in all), seed {args.seed}"
        )
        return 0
    charges = [b["metadata"]["charge"] for b in bodies]
    print(
        f"wrote {len(bodies)} requests to {args.out}: prompt tokens {prompt} "
        f"({used('prompt_tokens')}), max_tokens {answer} ({used('max_tokens')}), "
        f"seed {args.seed}; charges {min(charges)}..{max(charges)}, {sum(charges)} in all"
    )
    return 0
