"""A shell command as a client, in the records: its description, and its process's figures.

A `--command` run has no catalog entry: the report and theory describe it by
`command_spec`, and hyperfine's fields (wall, user and system seconds, exit
codes) are read back from its records here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import clients
from bench.records.results import RunRecord
from clients.spec import ClientSpec


def command_spec(name: str, command: str = "") -> ClientSpec:
    """A description of a command for the report and theory, which know no policy of it."""
    return ClientSpec(
        name=name,
        concurrency="processes",
        policy="no limit",  # unknown; theory gives it no model, so nothing reads this
        summary=f"the command `{command}`" if command else "a shell command",
        explain="A program run as a whole process and judged by the server's log alone.",
        paces=False,
        caps_in_flight=False,
        no_model="a shell command: its policy is not known to theory",
    )


def spec_for(name: str, command: str | None = None) -> ClientSpec:
    """The registered client's spec, or a command's description if `name` is none."""
    if command is not None or name not in clients.REGISTRY:
        return command_spec(name, command or "")
    return clients.spec(name)


def hyperfine_fields(runs: Sequence[RunRecord]) -> dict[str, Any]:
    """hyperfine's process fields for one command's runs (every run, failed ones included):
    `command` the shell command, `user` and `system` mean seconds, `exit_codes`, and the
    process's wall seconds (`process_times`, real seconds, start-up included)."""
    timed = [r.command for r in runs if r.command is not None]
    if not timed:
        return {}
    return {
        "name": runs[0].client,
        "command": timed[0].command,
        "user": statistics.fmean(t.user for t in timed),
        "system": statistics.fmean(t.system for t in timed),
        "exit_codes": [t.exit_code for t in timed],
        "process_times": [t.wall for t in timed],
    }


def process_words(runs: Sequence[RunRecord]) -> str:
    """The process's own figures over `runs`, in real seconds, as hyperfine prints them."""
    timed = [r.command for r in runs if r.command is not None]
    if not timed:
        return ""
    walls = [t.wall for t in timed]
    spread = statistics.stdev(walls) if len(walls) > 1 else 0.0
    return (
        f"{statistics.fmean(walls):.3f} s ± {spread:.3f} s real seconds "
        f"(User: {statistics.fmean(t.user for t in timed):.3f} s, "
        f"System: {statistics.fmean(t.system for t in timed):.3f} s)"
    )


def command_paragraph(runs: Sequence[RunRecord], bound: float | None) -> str:
    """The report's words on a command: what ran, its process times, theory's bound."""
    first = runs[0]
    command = first.command.command if first.command else "?"
    text = (
        f"The command `{command}`, run through the shell as a whole process and judged by "
        "the server's log alone: its makespan runs from the first request's arrival to the "
        "last response, and each logged request counts as one attempt (the server cannot "
        f"tell a retry from a new request). The whole process took {process_words(runs)}, "
        "start-up included. Theory has no model of it"
    )
    if bound:
        text += f"; the best schedule that keeps the limit takes {bound:.2f} s"
    return text + "."
