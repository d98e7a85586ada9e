"""`python -m clients NAME`: run one client once, printing the write-up's log lines."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from clients import REGISTRY, run_client, spec
from clients.config import OTPM_CHARGES, RETRY_NAMES, ClientConfig, ConfigError, RetryName
from clients.infra.preflight import check_reachable, check_writable
from clients.infra.procs import Collector, Stopped, raise_signalled, run_procs
from clients.infra.recorder import observing
from clients.spec import APIS
from mock_server.vocabulary import (
    EXIT_USAGE,
    STRATEGIES,
    OneLineParser,
    RatebenchError,
    check_time_scale,
)

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULTS = ClientConfig()


def _number(
    kind: Callable[[str], float], minimum: float, strict: bool, what: str
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


whole_at_least_1 = _number(int, 1, False, "a whole number of at least 1")
whole_at_least_0 = _number(int, 0, False, "a whole number of at least 0")
seconds_positive = _number(float, 0, True, "a number of seconds greater than 0")
seconds_at_least_0 = _number(float, 0, False, "a number of seconds of at least 0")
positive = _number(float, 0, True, "a number greater than 0")


def time_scale(text: str) -> float:
    """`--time-scale`, by the rule the server and the bench use."""
    try:
        return check_time_scale(float(text))
    except (ValueError, RatebenchError) as exc:
        raise argparse.ArgumentTypeError(
            str(exc) if isinstance(exc, RatebenchError) else f"expected a number, got {text!r}"
        ) from None


def build_parser() -> OneLineParser:
    d = DEFAULTS
    parser = OneLineParser(
        prog="python -m clients",
        description=(
            "Send a batch of GET requests to a rate-limited endpoint with one client and "
            "print the write-up's log lines ('[Request 0] Sending 0.00', ...). The defaults "
            "reproduce the write-up: 10 requests, 5 attempts with retry sleeps of 3, 6, 12, "
            "24 s, a pool of 2 threads, a token bucket of rate 2/s and capacity 2 that "
            "starts empty. Start the server first with `python -m mock_server`."
        ),
        epilog=(
            "Exit status: 0 if every request succeeded, 1 if some failed (out of attempts "
            "or past the deadline), 2 for bad input or an unreachable --url. "
            "Durations are scenario seconds, multiplied by --time-scale; use the same "
            "--time-scale as the server."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", help=f"which client: {', '.join(REGISTRY)}")
    parser.add_argument("--url", default=d.url, help="the endpoint to call")
    parser.add_argument("-n", type=whole_at_least_1, default=d.n, help="requests in the batch")
    parser.add_argument(
        "--retry",
        choices=RETRY_NAMES,
        default=d.retry,
        help="retry sleeps: exponential doubles (3, 6, 12, 24 s), writeup "
        "squares as the write-up's code did (3, 9, 81, 6561 s), none "
        "makes one attempt",
    )
    parser.add_argument(
        "--attempts",
        type=whole_at_least_1,
        default=d.attempts,
        help="attempts per request, the first included",
    )
    parser.add_argument(
        "--first-sleep",
        type=seconds_at_least_0,
        default=d.first_sleep,
        help="first retry sleep, scenario seconds",
    )
    parser.add_argument(
        "--time-scale",
        type=time_scale,
        default=d.time_scale,
        help="multiplies every duration (0.1 runs ten times faster)",
    )
    parser.add_argument(
        "--workers", type=whole_at_least_1, default=d.workers, help="threads of thread_pool"
    )
    parser.add_argument(
        "--rate",
        type=positive,
        default=d.rate,
        help="token bucket refill, tokens per scenario second",
    )
    parser.add_argument(
        "--capacity",
        type=whole_at_least_1,
        default=d.capacity,
        help="token bucket capacity, whole tokens",
    )
    parser.add_argument(
        "--initial-tokens",
        type=whole_at_least_0,
        default=d.initial_tokens,
        help="tokens in the bucket at the start",
    )
    parser.add_argument(
        "--deadline",
        type=seconds_positive,
        default=d.deadline,
        help="scenario seconds after which the run stops and counts unfinished requests as failed",
    )
    parser.add_argument(
        "--request-timeout",
        type=seconds_positive,
        default=d.request_timeout,
        help="scenario seconds one attempt may take",
    )
    parser.add_argument(
        "--pool",
        type=whole_at_least_0,
        default=d.pool,
        help="connections an aiohttp client may hold open at once, 0 for no limit "
        "(aiohttp's own default is 100); the thread clients open one per attempt",
    )
    parser.add_argument(
        "--client-procs",
        type=whole_at_least_1,
        default=1,
        metavar="P",
        help="split the batch over P client processes started together; "
        "each token_bucket process has its own bucket (P times the "
        "rate between them), shared_window processes share one limit",
    )
    parser.add_argument(
        "--server-strategy",
        default=d.server_strategy,
        choices=STRATEGIES,
        help="the limits strategy the server is known to use; sliding_window also keeps "
        "the sliding-window counter's rule when told so",
    )
    parser.add_argument(
        "--redis",
        default=d.redis_url,
        metavar="URL",
        help="the Redis that holds shared_window's limit",
    )
    parser.add_argument(
        "--rpm",
        type=whole_at_least_1,
        default=None,
        help="the LLM endpoint's clients: requests per minute they are told",
    )
    parser.add_argument(
        "--tpm",
        type=whole_at_least_1,
        default=None,
        help="the LLM endpoint's clients: tokens per minute they are told",
    )
    parser.add_argument(
        "--itpm",
        type=whole_at_least_1,
        default=None,
        help="Anthropic's clients: input tokens per minute they are told",
    )
    parser.add_argument(
        "--otpm",
        type=whole_at_least_1,
        default=None,
        help="Anthropic's clients: output tokens per minute they are told",
    )
    parser.add_argument(
        "--otpm-charge",
        choices=OTPM_CHARGES,
        default=None,
        help="Anthropic's clients: how the server charges output tokens, as they are told it",
    )
    parser.add_argument(
        "--api",
        choices=APIS,
        default=None,
        help="the API to send to, for a client that speaks several (budget_window, "
        "header_adaptive); default: the client's own",
    )
    parser.add_argument(
        "--requests",
        default=None,
        metavar="FILE",
        help="the LLM endpoint's clients: the request set to send (`python -m bench requests`); "
        "-n takes its first N lines",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="for a server that issued API keys (mock_server --api-key): the key every "
        "request presents, as Authorization: Bearer KEY (default: none)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write every attempt of the run to FILE as JSON",
    )
    return parser


def _config(args: argparse.Namespace) -> ClientConfig:
    retry: RetryName = args.retry
    client = spec(args.name)
    if args.api is not None and not client.speaks(args.api):
        raise ConfigError(
            f"--api {args.api}: {args.name} speaks {' and '.join(client.apis)}; leave --api out"
        )
    return ClientConfig(
        url=args.url,
        n=args.n,
        workers=args.workers,
        rate=args.rate,
        capacity=args.capacity,
        initial_tokens=args.initial_tokens,
        attempts=args.attempts,
        retry=retry,
        first_sleep=args.first_sleep,
        time_scale=args.time_scale,
        deadline=args.deadline,
        request_timeout=args.request_timeout,
        redis_url=args.redis,
        server_strategy=args.server_strategy,
        rpm=args.rpm,
        tpm=args.tpm,
        itpm=args.itpm,
        otpm=args.otpm,
        otpm_charge=args.otpm_charge,
        api=args.api or client.api,
        requests_file=args.requests,
        pool=args.pool,
        api_key=args.api_key,
    )


def _print_line(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        needs = spec(args.name).needs  # ConfigError for an unknown name
        if args.initial_tokens > args.capacity:
            raise ConfigError(
                f"--initial-tokens ({args.initial_tokens}) cannot exceed "
                f"--capacity ({args.capacity})"
            )
        config = _config(args)
        if args.json is not None:
            check_writable(args.json)
        check_reachable(config.url)
        if "redis" in needs:
            from clients.limiters.redis_log import check_redis

            check_redis(config.redis_url)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM and SIGHUP unwind the run like Ctrl-C, so that child processes are
    # stopped and what was completed is still written (exit 128 + the signal).
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, raise_signalled)
    collector = Collector()
    interrupted: int | None = None
    try:
        if args.client_procs > 1:
            run = run_procs(args.name, config, args.client_procs, _print_line)
        else:
            with observing(collector):
                run = run_client(args.name, config, _print_line)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Stopped as exc:
        run, interrupted = exc.run, exc.signum
    except KeyboardInterrupt as exc:
        run = collector.run(args.name, config.n)
        interrupted = getattr(exc, "signum", signal.SIGINT)
    if interrupted is not None:
        # What was completed, in the shape of a finished run, marked as cut short;
        # on stdout when there is no --json, so it is never lost.
        name = signal.Signals(interrupted).name
        record = {**run.to_dict(), "interrupted": name}
        text = json.dumps(record, indent=1) + "\n"
        try:
            if args.json is not None:
                args.json.write_text(text)
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except OSError:
            pass
        print(
            f"error: interrupted by {name} after {run.completed} of {run.n} requests",
            file=sys.stderr,
        )
        return 128 + interrupted
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(run.to_dict(), indent=1) + "\n")
        except OSError as exc:
            print(f"error: could not write --json {args.json}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_OK if run.failed == 0 else EXIT_FAILED
