"""The command line on its own: help, the start-up callback, bad input and its exit codes (no Docker:
the start-up reaper is stubbed; the CLI's end-to-end tests live with the parts they drive)."""

from __future__ import annotations

import json
import re
import signal

import pytest
from typer.testing import CliRunner

from forager.cli import app as cli_app
from forager.cli.main import app

COMMANDS = ["build", "run", "export", "api", "worker", "replay", "images", "tasks", "trajectories", "tokens",
            "traces"]
COMMANDS += ["campaign"]


@pytest.fixture(autouse=True)
def no_reaper(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The start-up reaper would ask the Docker engine; count its calls instead."""
    calls: list[int] = []
    monkeypatch.setattr("forager.jobs.reaper.reap", lambda: calls.append(1))
    return calls


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command_in_order() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    listed = [m.group(1) for m in re.finditer(r"^\W+([a-z]+)\s{2,}\S", out, re.M)]
    assert listed[1:] == COMMANDS  # after the --help option


@pytest.mark.parametrize("group", ["images", "tasks", "trajectories", "tokens"])
def test_groups_have_help(group: str) -> None:
    code, out, _ = invoke(group, "--help")
    assert code == 0 and "Commands" in out


def test_every_command_reaps_first(no_reaper: list[int]) -> None:
    invoke("tokens", "list")
    assert no_reaper == [1]


def test_sigterm_unwinds_like_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGTERM)
    try:
        cli_app._main()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with pytest.raises(SystemExit) as info:
            handler(signal.SIGTERM, None)
        assert info.value.code == 143
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize("args", [["run"], ["run", "task-1", "--tasks", "all"]])
def test_run_needs_a_task_or_a_filter(args: list[str]) -> None:
    code, _, err = invoke(*args)
    assert code == 2 and "give either TASK_ID or --tasks FILTER" in err


@pytest.mark.parametrize(("args", "says"), [
    (["run", "task-nope", "--agent", "oracle"], "no task 'task-nope'"),
    (["run", "task-nope", "--agent", "bogus"], "agent must be 'llm' or 'oracle'"),
    (["run", "--tasks", "bogus=1"], "bad task filter term"),
    (["tokens", "create", "x", "--scope", "bogus"], "scope must be one of"),
    (["trajectories", "show", "traj-nope"], "no trajectory 'traj-nope'"),
    (["export", "out.jsonl", "--format", "bogus"], "format must be one of"),
    (["worker", "--queues", "bogus"], "unknown queue(s) bogus"),
    (["replay", "traj-nope"], "no trajectory 'traj-nope'"),
])
def test_bad_input_exits_2(args: list[str], says: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2 and "error:" in err and says in err


@pytest.mark.parametrize(("args", "says"), [
    (["tasks", "show", "task-nope"], "no such task: task-nope"),
    (["images", "show", "nope:1"], "no such image: nope:1"),
    (["tokens", "revoke", "tok-nope"], "no such token: tok-nope"),
])
def test_unknown_names_exit_1(args: list[str], says: str) -> None:
    code, _, err = invoke(*args)
    assert code == 1 and says in err


def test_an_empty_batch_runs_to_an_end() -> None:
    code, out, err = invoke("run", "--tasks", "all", "--agent", "oracle", "--json")
    report = json.loads(out)
    assert code == 0 and "no task matches" in err
    assert report["episodes"] == 0 and report["results"] == [] and report["resolved_share"] == 0.0


def test_empty_listings() -> None:
    for group in ("images", "tasks", "trajectories"):
        code, out, _ = invoke(group, "list", "--json")
        assert code == 0 and json.loads(out) == []
