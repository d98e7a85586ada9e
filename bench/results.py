"""Where a bench writes, and how it reads back what it wrote.

`runs.jsonl` gets one line per finished run, appended and flushed to disk as
soon as the run ends, so that an interrupted or crashed bench keeps every run
it finished. Plots and the report are drawn from these files alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUN_SCHEMA = "ratebench.bench-run/1"
SUMMARY_SCHEMA = "ratebench.summary/1"
RUNS_FILE = "runs.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"


class ResultsError(ValueError):
    """A results directory or file that cannot be used; says how to fix it."""


def machine() -> dict[str, Any]:
    """The facts a reader needs to judge a timing: where it was taken."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "hostname": platform.node(),
    }


def new_run_dir(out: Path, name: str | None = None) -> Path:
    """Create `out/<timestamp>/` (or `out/<name>/`) and point `out/latest` at it."""
    stamp = name or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        out.mkdir(parents=True, exist_ok=True)
        run_dir = out / stamp
        suffix = 1
        while run_dir.exists() and name is None:
            run_dir = out / f"{stamp}-{suffix}"
            suffix += 1
        run_dir.mkdir(parents=True, exist_ok=name is not None)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ResultsError(
            f"cannot write results under {out}: {exc.strerror or exc}; pick another --out"
        ) from None
    latest = out / "latest"
    with contextlib.suppress(OSError):
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    return run_dir


class RunLog:
    """Appends run records to `runs.jsonl`, one whole line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        # One write of a whole line, then fsync: a kill between runs can never
        # leave half a record behind.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def load_runs(run_dir: Path) -> list[dict[str, Any]]:
    """Read `runs.jsonl`; one clear error for a missing or corrupted file."""
    path = run_dir / RUNS_FILE
    if not run_dir.is_dir():
        raise ResultsError(
            f"{run_dir} is not a directory: give a results directory such as results/latest"
        )
    if not path.is_file():
        raise ResultsError(
            f"{run_dir} has no {RUNS_FILE}: give a directory written by "
            "`python -m bench`, such as results/latest"
        )
    runs: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ResultsError(
                    f"{path}:{number} is not valid JSON: the file is corrupted; "
                    "delete that line or re-run the bench"
                ) from None
            if not isinstance(record, dict) or record.get("schema") != RUN_SCHEMA:
                raise ResultsError(
                    f"{path}:{number} is not a ratebench run record "
                    f"(schema {RUN_SCHEMA}); re-run the bench"
                )
            runs.append(record)
    if not runs:
        raise ResultsError(f"{path} holds no runs: the bench stopped before finishing one")
    return runs


def write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so that readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
