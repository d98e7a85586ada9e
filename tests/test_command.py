"""`python -m bench --command`: a shell command benched as a whole process, judged by the log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.commands.compare import build_parser, plan_from_args
from bench.output.summary import build_summary
from bench.records.commands import hyperfine_fields
from bench.records.results import RunRecord, ServerEntry
from bench.records.scenario import parse_scenario
from bench.running.plan import BenchPlan
from bench.running.runner import run_bench
from bench.running.shell_command import attempts_from_log
from mock_server.vocabulary import UsageError

TB = (
    f"{sys.executable} -m clients token_bucket --url $RATEBENCH_CHAT_URL "
    "--time-scale $RATEBENCH_TIME_SCALE -n $RATEBENCH_N"
)


def test_attempts_come_from_the_server_log_one_per_request() -> None:
    log = (
        ServerEntry(seq=1, arrival=100.5, accepted=False, status=429, decided=100.51),
        ServerEntry(seq=0, arrival=100.0, accepted=True, status=200, left=102.0),
        ServerEntry(seq=2, arrival=101.0, accepted=True, status=200, left=104.0),
    )
    start, makespan, attempts = attempts_from_log(log)
    assert start == 100.0
    assert makespan == pytest.approx(4.0)
    assert [a.outcome for a in attempts] == ["ok", "rate_limited", "ok"]
    assert [a.request for a in attempts] == [0, 1, 2]
    assert attempts[1].finished == pytest.approx(0.51)


def test_an_answer_the_program_left_before_is_not_ok() -> None:
    """The server answered 200 to nobody: the program gave up at `disconnected`."""
    log = (
        ServerEntry(seq=0, arrival=100.0, accepted=True, status=200, left=101.0),
        ServerEntry(seq=1, arrival=100.0, accepted=True, status=200, disconnected=100.5),
    )
    _, makespan, attempts = attempts_from_log(log)
    assert [a.outcome for a in attempts] == ["ok", "timeout"]
    assert attempts[1].finished == pytest.approx(0.5)
    assert makespan == pytest.approx(1.0)
    assert ServerEntry.from_dict(log[1].to_dict()) == log[1]
    assert "disconnected" not in log[0].to_dict()


def test_bad_command_flags_are_one_line_errors() -> None:
    for bad in (["--command", "no equals sign"], ["--command", "token_bucket=true"]):
        with pytest.raises(UsageError):
            plan_from_args(build_parser().parse_args(bad))
    plan = plan_from_args(build_parser().parse_args(["--command", "mine=true", "--runs", "2"]))
    assert plan.clients == ()
    assert plan.commands == (("mine", "true"),)


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
