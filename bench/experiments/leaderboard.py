"""The leaderboard: every library client beside our best, on a fixed set of scenarios.

`SCENARIOS` is the table: one `Board` per scenario, named, written as the
bench's own flags (so any row can be re-run by hand with `python -m bench`
and those flags), with our best clients for its API. A new API joins with a
line here; its library clients (a `ClientSpec.library`, `SPEC.api` the
board's) join by themselves.

Each board is one bench (`bench.running.runner.run_bench`): every client
in a process of its own, runs side by side as the bench chooses, each
joined with the server's log. Its folder, OUT/<board>/, holds what a bench
writes (runs.jsonl, theory.json, summary.json, report.md and plots); the
table (`leaderboard.md`, `leaderboard.json` in OUT) is drawn from those
folders alone, so a board re-run on its own (`--scenario NAME`) replaces
its rows and leaves the others as they were.

A cell gives the makespan ÷ the bound (the best any client could do on the
run's own latency draws), 429s and requests lost per run (from the server's
log and the attempts), the client process's CPU per request during its
batch and its peak memory (imports included), theory's prediction where a
model exists, and in words what the figures alone would hide: a limit
broken, requests lost, a limit the library cannot be told.
"""

from __future__ import annotations

import inspect
import json
import shutil
import statistics
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import clients
from bench.endpoints.registry import (
    add_scenario_arguments,
    endpoint_for,
    scenario_from_args,
    theory_for_runs,
)
from bench.output.summary import build_summary
from bench.records.results import (
    RUNS_FILE,
    ResultsError,
    RunRecord,
    TheoryRecord,
    load_runs,
    load_theory,
    write_json,
    write_theory,
)
from bench.records.scenario import Scenario
from bench.running.parallel import choose_jobs
from bench.running.plan import BenchPlan, Job
from bench.running.runner import run_bench
from clients.spec import ClientSpec
from mock_server.vocabulary import OneLineParser, RatebenchError

TABLE_MD = "leaderboard.md"
TABLE_JSON = "leaderboard.json"
SCHEMA = "ratebench.leaderboard/1"
RUNS = 3


@dataclass(frozen=True, slots=True)
class Board:
    """One scenario of the leaderboard: `flags` are `python -m bench`'s, `ours` our
    best clients of its API, `words` the scenario for the table's heading."""

    name: str
    api: str
    words: str
    flags: tuple[str, ...]
    ours: tuple[str, ...]

    def scenario(self, time_scale: float) -> Scenario:
        """The scenario the flags make, at `time_scale`; RatebenchError if they make none."""
        parser = OneLineParser(prog=f"leaderboard {self.name}")
        add_scenario_arguments(parser)
        args = parser.parse_args([*self.flags, "--time-scale", repr(time_scale)])
        return scenario_from_args(args)

    def clients(self) -> tuple[str, ...]:
        """Our best, then every library client of the board's API, in registry order."""
        libraries = [s.name for s in clients.specs() if s.library and s.api == self.api]
        return (*self.ours, *libraries)


CHAT_BEST = ("sliding_window", "fifo_bucket")
OPENAI_BEST = ("budget_window", "header_adaptive")

#: The leaderboard's scenarios, one line each; an API that lands adds its own.
SCENARIOS: tuple[Board, ...] = (
    Board(
        "chat-writeup",
        "chat",
        "/chat, the write-up's point: 10 requests, 2 per second (fixed window), latency 2-5 s",
        (),
        CHAT_BEST,
    ),
    Board(
        "chat-2000",
        "chat",
        "/chat, 2,000 requests at 100 per second (fixed window), latency 1-2 s",
        ("-n", "2000", "--rate", "100/second", "--latency", "1-2"),
        CHAT_BEST,
    ),
    Board(
        "openai-requests",
        "openai",
        "OpenAI endpoint, requests bind: 80 requests, 20 RPM and 100,000 TPM (token bucket)",
        ("--api", "openai", "--strategy", "token-bucket", "--rpm", "20", "--tpm", "100000"),
        OPENAI_BEST,
    ),
    Board(
        "openai-tokens",
        "openai",
        "OpenAI endpoint, tokens bind: 80 requests, 100 RPM and 10,000 TPM (token bucket)",
        ("--api", "openai", "--strategy", "token-bucket", "--rpm", "100", "--tpm", "10000"),
        OPENAI_BEST,
    ),
)
#: The OpenAI boards' batch: the reference scenarios' 80 requests (`-n 80`).
OPENAI_N = ("-n", "80")
SCENARIOS = tuple(
    replace(b, flags=(*b.flags, *OPENAI_N)) if b.api == "openai" else b for b in SCENARIOS
)


def board(name: str) -> Board:
    """The board called `name`; RatebenchError naming the known ones."""
    for b in SCENARIOS:
        if b.name == name:
            return b
    known = ", ".join(b.name for b in SCENARIOS)
    raise RatebenchError(f"no leaderboard scenario {name!r}: choose from {known}")


# -- running -------------------------------------------------------------------------


#: Told of each run as it starts (record None) and as it ends.
Progress = Callable[[Board, Job, RunRecord | None], None]


def run_board(
    b: Board,
    out: Path,
    *,
    runs: int = RUNS,
    time_scale: float = 1.0,
    only: Sequence[str] = (),
    progress: Progress = lambda b, job, record: None,
) -> Path:
    """Run board `b` into OUT/<name>/ (replacing what a former run left there, once
    this one has finished); returns the folder. `only`: these clients, if given."""
    names = tuple(c for c in b.clients() if not only or c in only)
    if not names:
        raise RatebenchError(f"{b.name}: none of {', '.join(only)} runs on it")
    scenario = b.scenario(time_scale)
    fresh = out / f".{b.name}.running"
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(parents=True)
    prepared, _ = endpoint_for(scenario).prepare(scenario, fresh)
    plan = BenchPlan(clients=names, runs=runs, scenario=prepared)
    records = run_bench(
        plan,
        fresh,
        on_start=lambda job: progress(b, job, None),
        on_done=lambda job, record: progress(b, job, record),
        jobs=choose_jobs(plan).jobs,
        own_process=True,
    )
    theory = theory_for_runs(records)
    write_theory(fresh, theory)
    write_json(fresh / "summary.json", build_summary(records, theory))
    final = out / b.name
    if final.exists():
        shutil.rmtree(final)
    fresh.rename(final)
    return final


# -- the table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One client on one board, from its runs and the board's theory."""

    client: str
    library: str
    runs: int
    completed_runs: int
    over_bound: float | None  # mean makespan ÷ mean bound, completed runs only
    makespan: float | None  # mean, scenario seconds
    rejections: float  # 429s per run, server log
    lost: float  # requests per run that never succeeded
    n: int
    cpu_ms_per_request: float | None
    peak_rss_mb: float | None
    predicted: float | None  # theory's mean makespan, scenario seconds
    predicted_over_bound: float | None
    predicted_lost: float | None  # theory's requests lost per run, for a lossy client
    no_model: str
    words: str
    user_lines: str


@dataclass(frozen=True, slots=True)
class BoardTable:
    board: Board
    time_scale: float
    bound: float | None  # mean bound over the board's runs, scenario seconds
    cells: tuple[Cell, ...] = field(default_factory=tuple)


def user_lines(spec: ClientSpec) -> str:
    """The body of the client's `library_calls` (the lines a user writes to use the
    library), or what ratebench's own client is."""
    import importlib

    module = importlib.import_module(f"{clients.__name__}.catalog.{spec.name}")
    function = getattr(module, "library_calls", None)
    if function is None:
        return f"ratebench's own: {spec.summary}"
    source = textwrap.dedent(inspect.getsource(function))
    lines = source.splitlines()
    # The body: after the signature's closing line (a `def` may span lines).
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith(":")) + 1
    return textwrap.dedent("\n".join(lines[start:])).strip()


def words_for(
    spec: ClientSpec, records: Sequence[RunRecord], lost: float, rejections: float
) -> str:
    """What the figures alone would hide, in words."""
    said: list[str] = []
    refused = [r.reason for r in records if r.reason and r.reason.startswith("the client could")]
    if refused:
        said.append(f"could not run: {refused[0].removeprefix('the client could not run: ')}")
    if spec.cannot_express and spec.api != "chat":
        said.append(f"cannot express {' or '.join(spec.cannot_express)} (requests only)")
    if rejections > 0:
        said.append(f"broke the limit: {rejections:.1f} × 429 per run")
    if lost > 0:
        said.append(f"lost {lost:.1f} of {records[0].n} requests per run")
        unsent = (
            statistics.fmean(
                r.n - len({a.request for a in r.attempts}) for r in records if r.attempts
            )
            if any(r.attempts for r in records)
            else 0.0
        )
        if unsent > 0:
            said.append(f"{unsent:.1f} of them never sent (the library gave up on them itself)")
    failed = [
        r.reason
        for r in records
        if r.reason and "never succeeded" not in r.reason and not r.reason.startswith("the client")
    ]
    if failed:
        said.append(f"{len(failed)} run(s) failed: {failed[0]}")
    return "; ".join(said) or "kept the limit, lost nothing"


def cell(
    spec: ClientSpec, records: Sequence[RunRecord], theory: TheoryRecord | None, bound: float | None
) -> Cell:
    n = records[0].n
    ok = [r for r in records if r.ok]
    answered = [r for r in records if not (r.reason or "").startswith("the client could")]
    rejections = statistics.fmean(r.rejections for r in answered) if answered else 0.0
    lost = statistics.fmean(r.n - r.completed for r in answered) if answered else 0.0
    makespan = statistics.fmean(r.seconds for r in ok) if ok else None
    usages = [r.usage for r in answered if r.usage is not None]
    cpu = statistics.fmean(u.cpu_seconds / n * 1e3 for u in usages) if usages else None
    rss = max(u.peak_rss_mb for u in usages) if usages else None
    expected = theory.for_client(spec.name) if theory is not None else None
    predicted = expected.predicted_mean if expected is not None else None
    predicted_lost = expected.predicted_failed if expected is not None else None
    return Cell(
        client=spec.name,
        library=spec.library,
        runs=len(records),
        completed_runs=len(ok),
        over_bound=makespan / bound if makespan is not None and bound else None,
        makespan=makespan,
        rejections=rejections,
        lost=lost,
        n=n,
        cpu_ms_per_request=cpu,
        peak_rss_mb=rss,
        predicted=predicted,
        # A lossy client's predicted "makespan" is when its batch ended, not a makespan.
        predicted_over_bound=(
            predicted / bound if predicted is not None and bound and not predicted_lost else None
        ),
        predicted_lost=predicted_lost or None,
        no_model=spec.no_model,
        words=words_for(spec, records, lost, rejections),
        user_lines=user_lines(spec),
    )


def board_table(b: Board, folder: Path) -> BoardTable:
    """Board `b`'s rows from its folder's files; ResultsError if it has none."""
    records = load_runs(folder, RUNS_FILE)
    if not records:
        raise ResultsError(f"{folder} holds no runs")
    theory = load_theory(folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    bounds = [r["bound"] for r in summary["results"] if r.get("bound")]
    bound = statistics.fmean(bounds) if bounds else None
    grouped: dict[str, list[RunRecord]] = {}
    for record in records:
        grouped.setdefault(record.client, []).append(record)
    cells = tuple(
        cell(clients.spec(name), mine, theory, bound)
        for name, mine in grouped.items()
        if name in clients.REGISTRY
    )
    return BoardTable(b, records[0].scenario.time_scale, bound, cells)


def tables(out: Path) -> list[BoardTable]:
    """Every board that has a folder in `out`, in the leaderboard's order."""
    return [board_table(b, out / b.name) for b in SCENARIOS if (out / b.name / RUNS_FILE).is_file()]


def _num(x: float | None, fmt: str, none: str = "—") -> str:
    return none if x is None else format(x, fmt)


def rank_key(c: Cell) -> tuple[int, float]:
    """Complete, limit-keeping clients first by makespan; then those that lost requests."""
    if c.lost > 0 or c.over_bound is None:
        return (1, c.lost)
    return (0, c.over_bound)


def format_markdown(found: Sequence[BoardTable]) -> str:
    out: list[str] = ["# Which library should I use? The leaderboard", ""]
    out.append(
        "Every library client and ratebench's best, each run in a process of its own against "
        "the mock server, judged by the server's log. Makespan ÷ bound: the mean makespan "
        "over the best any client could do on the same latency draws (completed runs only). "
        "CPU: the client process's user + system time during its batch, per request. Memory: "
        "its peak resident set, imports included."
    )
    out.append("")
    for t in found:
        b = t.board
        out.append(f"## {b.words}")
        out.append("")
        runs = max((c.runs for c in t.cells), default=0)
        scale = "" if t.time_scale == 1 else f", time scale {t.time_scale:g} (not full scale)"
        bound = _num(t.bound, ".2f")
        command = " ".join(("python -m bench", *b.flags))
        out.append(f"`{command}`: {runs} runs per client{scale}; best possible {bound} s.")
        out.append("")
        out.append(
            "| client | library | makespan ÷ bound | theory ÷ bound | 429s per run | "
            "lost per run | CPU per request (ms) | peak memory (MB) | what happened |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for c in sorted(t.cells, key=rank_key):
            theory = _num(c.predicted_over_bound, ".2f", "no model" if c.no_model else "—")
            if c.predicted_lost:
                theory = f"{c.predicted_lost:.1f} lost"
            out.append(
                f"| `{c.client}` | {c.library or 'ratebench'} | {_num(c.over_bound, '.2f')} | "
                f"{theory} | {c.rejections:.1f} | {c.lost:.1f} of {c.n} | "
                f"{_num(c.cpu_ms_per_request, '.2f')} | {_num(c.peak_rss_mb, '.0f')} | "
                f"{c.words} |"
            )
        out.append("")
    libraries: dict[str, Cell] = {}
    for t in found:
        for c in t.cells:
            if c.library:
                libraries.setdefault(c.client, c)
    if libraries:
        out.append("## The lines a user writes")
        out.append("")
        out.append(
            "The body of each library client's `library_calls` "
            "(`clients/catalog/<client>.py`): the library set up, and what is awaited "
            "per call. Theory has no model of a library's code: its own words, per client."
        )
        out.append("")
        for c in libraries.values():
            out.append(f"### `{c.client}` ({c.library})")
            out.append("")
            out.append("```python")
            out.append(c.user_lines)
            out.append("```")
            out.append("")
            if c.no_model:
                out.append(f"No model: {c.no_model}.")
                out.append("")
    if any(t.time_scale != 1 for t in found):
        out.append(
            "At a time scale other than 1 the figures are a quick check, not the "
            "leaderboard: LiteLLM counts the wall clock's minutes, and the windows "
            "smartratelimit and the SDKs learn or wait are wall seconds, so they are not "
            "measured as they run."
        )
        out.append("")
    return "\n".join(out)


def to_json(found: Sequence[BoardTable]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "boards": [
            {
                "name": t.board.name,
                "api": t.board.api,
                "words": t.board.words,
                "flags": list(t.board.flags),
                "time_scale": t.time_scale,
                "bound": t.bound,
                "cells": [asdict(c) for c in t.cells],
            }
            for t in found
        ],
    }


def write_tables(out: Path) -> tuple[Path, Path]:
    """leaderboard.md and leaderboard.json from every board folder in `out`."""
    found = tables(out)
    md = out / TABLE_MD
    md.write_text(format_markdown(found) + "\n", encoding="utf-8")
    js = out / TABLE_JSON
    write_json(js, to_json(found))
    return md, js


__all__ = [
    "SCENARIOS",
    "Board",
    "Cell",
    "board",
    "run_board",
    "write_tables",
]
