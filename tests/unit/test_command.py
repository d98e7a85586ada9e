"""`--command` without a process: attempts read off a server log made by hand, and
its flags."""

from __future__ import annotations

import pytest

from bench.commands.compare import build_parser, plan_from_args
from bench.records.results import ServerEntry
from bench.running.shell_command import attempts_from_log
from mock_server.vocabulary import UsageError


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
