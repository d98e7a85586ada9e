"""`python -m bench concurrency`: threads vs asyncio as the requests in flight grow."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clients import REGISTRY
from mock_server.vocabulary import OneLineParser, UsageError


def _levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--in-flight {text!r}: write whole numbers, e.g. 10,100,1000") from None
    if not levels or not all(1 <= x <= 5_000 for x in levels):
        raise UsageError(f"--in-flight {text!r}: each level must be between 1 and 5000")
    return levels


def main(argv: list[str]) -> int:
    from bench.experiments.concurrency import CLIENTS, LATENCY, LEVELS, WALL_RATE

    parser = OneLineParser(
        prog="python -m bench concurrency",
        description="Threads + requests against asyncio + aiohttp under the same policy, "
        f"as the requests in flight grow: at each level F the server allows F per second "
        f"with a fixed latency of {LATENCY} s (so F are on the wire), and each client sends "
        "2 F requests as a process of its own. Prints, per client and level, its peak "
        "memory, CPU per request, how late its sends reach the server's limiter (its "
        "`sent` stamp to the server's decision), 429s and makespan ÷ the best possible. "
        f"The time scale stretches each level so that at most {WALL_RATE:g} requests a "
        "wall second go out (5000 in flight takes about 2 minutes per client).",
    )
    parser.add_argument(
        "--in-flight",
        default=",".join(map(str, LEVELS)),
        help=f"comma-separated levels of requests in flight (default: "
        f"{','.join(map(str, LEVELS))})",
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"clients to compare (default: {','.join(CLIENTS)}: one bucket on "
        "threads and on asyncio)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    levels = _levels(args.in_flight)
    names = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in names if c not in REGISTRY]
    if unknown or not names:
        raise UsageError(
            f"unknown client {', '.join(unknown) or '(none)'}: choose from {', '.join(REGISTRY)}"
        )
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"--json {args.json}: folder {args.json.parent} does not exist")
    from bench.experiments.concurrency import Point, format_table, run_levels, to_json

    def progress(p: Point) -> None:
        outcome = f"{p.makespan:.2f} s, {p.rejections} × 429" if p.ok else f"failed: {p.reason}"
        print(f"  {p.client:<16} {p.in_flight:>5} in flight: {outcome}", file=sys.stderr)

    points = run_levels(levels, names, progress)
    print(format_table(points))
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(to_json(points), indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror}") from None
    return 0
