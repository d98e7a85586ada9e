"""`python -m bench --command`: a shell command benched as a whole process, judged by the log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.output.summary import build_summary
from bench.records.commands import hyperfine_fields
from bench.records.results import RunRecord
from bench.records.scenario import parse_scenario
from bench.running.plan import BenchPlan
from bench.running.runner import run_bench

TB = (
    f"{sys.executable} -m clients token_bucket --url $RATEBENCH_CHAT_URL "
    "--time-scale $RATEBENCH_TIME_SCALE -n $RATEBENCH_N"
)


def test_commands_run_as_processes_and_fail_with_reasons(tmp_path: Path) -> None:
    """One bench of three commands at time scale 0.05: a real client, one that exits 1,
    one that never calls the server (killed at the deadline: 10 × 0.05 s + start-up)."""
    plan = BenchPlan(
        clients=(),
        runs=1,
        scenario=parse_scenario(n=4, time_scale=0.05),
        overrides=(("deadline", 10.0),),
        commands=(
            ("tb", TB),
            ("broken", "echo first >&2; echo 'it went wrong' >&2; exit 3"),
            ("idle", "sleep 60"),
        ),
    )
    records = {r.client: r for r in run_bench(plan, tmp_path)}
    tb, broken, idle = records["tb"], records["broken"], records["idle"]

    assert tb.ok, tb.reason
    assert tb.completed == 4
    assert len(tb.server_log) == len(tb.attempts)
    assert tb.rejections == tb.client_rejections
    assert tb.command is not None
    assert tb.command.exit_code == 0
    # The process's wall time holds the interpreter's start-up; the makespan does not.
    assert tb.command.wall > tb.makespan
    assert tb.command.user > 0

    assert not broken.ok
    assert broken.reason is not None
    assert "exit status 3" in broken.reason
    assert "it went wrong" in broken.reason
    assert not idle.ok
    assert idle.reason is not None
    assert "killed after" in idle.reason
    assert idle.command is not None
    assert idle.command.wall < 15

    # Records round-trip with the command; the summary carries hyperfine's fields.
    line = (tmp_path / "runs.jsonl").read_text().splitlines()[0]
    assert RunRecord.from_dict(json.loads(line)) == tb
    summary = build_summary(list(records.values()), None)
    (entry,) = summary["results"]
    assert entry["command"] == TB
    assert entry["exit_codes"] == [0]
    assert hyperfine_fields([broken])["exit_codes"] == [3]
