"""`python -m bench load`: how much the mock server itself adds, on this machine."""

from __future__ import annotations

import json
from pathlib import Path

from mock_server.vocabulary import OneLineParser, UsageError


def main(argv: list[str]) -> int:
    parser = OneLineParser(
        prog="python -m bench load",
        description="Measure the mock server itself on this machine: the latency it adds "
        "over the drawn one with many requests in flight, and how many 429s per "
        "second it can answer; then the CPU per request of a thread client and an "
        "asyncio client, each beside its HTTP library alone sending the same batch. "
        "Starts its own server; sends only to 127.0.0.1.",
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per measurement (default: 2000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=300, help="requests kept in flight (default: 300)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=1.0,
        help="the fixed latency the server draws, seconds (default: 1)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times each client and its library alone are measured, in turn; the median "
        "is printed (default: 3)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="connections the asyncio client and aiohttp alone may hold, 0 for no limit "
        "(default: 0, the clients' own)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000:
        raise UsageError(f"--requests {args.requests} must be between 1 and 100000")
    if not 1 <= args.concurrency <= 5_000:
        raise UsageError(f"--concurrency {args.concurrency} must be between 1 and 5000")
    if not 0 <= args.latency <= 60:
        raise UsageError(f"--latency {args.latency} must be between 0 and 60 seconds")
    if not 1 <= args.rounds <= 100:
        raise UsageError(f"--rounds {args.rounds} must be between 1 and 100")
    if args.pool < 0:
        raise UsageError(f"--pool {args.pool} must be >= 0 connections (0 for no limit)")
    if args.json is not None and not args.json.parent.is_dir():
        # Checked before the measurement, not after it is lost.
        raise UsageError(f"--json {args.json}: folder {args.json.parent} does not exist")
    from bench.experiments.load import run_load

    figures = run_load(args.requests, args.concurrency, args.latency, args.rounds, args.pool)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror}") from None
    return 0
