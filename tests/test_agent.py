"""Agent episodes against the real Docker engine, with the minipkg image and a scripted model server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_model import FakeModel, text_call
from minipkg_task import BAD, CALC_PATH, F2P, GOOD, _containers

from forager.config import reset_settings


def test_environment_shell_and_sandbox(task: Any, runtime: Any) -> None:
    from forager.episode.agent import compute_reward, open_environment
    from forager.episode.reward import judge
    from forager.trajectory.schema import Action

    before = _containers()
    with open_environment(task.image_id, task=task) as env:
        assert env.user == "forager"
        assert env.run("id -u").output.strip() == "7000"
        # state persists between commands; exit codes come through; output without newline is kept
        assert env.run("cd src && export FOO=bar").exit_code == 0
        obs = env.run("pwd; echo $FOO; printf tail")
        assert obs.output == "/repo/src\nbar\ntail"
        assert env.run("exit 7").exit_code == 7
        assert env.run("false; echo $?").output.strip() == "1"
        # long output truncated with a marker, head and tail kept
        obs = env.run("seq 1 200000")
        assert "elided" in obs.output and obs.output.startswith("1\n2\n")
        assert obs.output.rstrip().endswith("200000")
        assert len(obs.output) < env.settings.output_limit + 200
        # network is off
        obs = env.run("python -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"")
        assert obs.exit_code != 0 and "unreachable" in obs.output.lower()
        # a hung command (with a child) is killed by its timeout and the shell survives
        start = time.monotonic()
        obs = env.run("sh -c 'sleep 300' & sleep 300", timeout=2)
        assert obs.timed_out and obs.exit_code == 124 and time.monotonic() - start < 10
        assert env.run("echo alive").output == "alive\n"
        assert "sleep 300" not in env.run("ps -eo args").output
        # the shell dying is survived too
        obs = env.run("kill -9 $PPID")
        assert env.run("echo again").output == "again\n"
        # tools
        obs = env.execute(Action(tool="view", args={"path": CALC_PATH, "start_line": 1, "end_line": 5}))
        assert obs.exit_code == 0 and "def mean" in obs.output
        obs = env.execute(Action(tool="edit", args={"path": CALC_PATH, "old_str": "values", "new_str": "x"}))
        assert obs.exit_code == 1 and "appears" in obs.output
        obs = env.execute(Action(tool="edit", args={"path": "/etc/passwd", "old_str": "root:",
                                                    "new_str": "r:"}))
        assert obs.exit_code == 1
        obs = env.execute(Action(tool="create", args={"path": "notes/todo.txt", "content": "hello\n"}))
        assert obs.exit_code == 0 and env.run("cat /repo/notes/todo.txt").output == "hello\n"
        obs = env.execute(Action(tool="bogus", args={}))
        assert obs.exit_code is None and "unknown tool" in obs.output
        obs = env.execute(Action(tool="bash", args={"cmd": "ls"}))
        assert obs.exit_code is None and "bad arguments" in obs.output
        obs = env.execute(Action(tool="view", args={"path": CALC_PATH, "start_line": "first"}))
        assert obs.exit_code is None and "bad arguments" in obs.output
        # the task state is not solved; the diff shows only our own changes
        judged = judge(env, task)
        reward = judged.reward
        assert not reward.resolved and reward.fail_to_pass == {F2P[0]: "failed"}
        assert all(v == "passed" for v in reward.pass_to_pass.values()) and reward.pass_to_pass
        assert "notes/todo.txt" in judged.diff and "calc.py" not in judged.diff
        assert compute_reward(env, task).fail_to_pass == reward.fail_to_pass
    assert not _containers() - before  # none of ours left (other processes may run episodes)

    with pytest.raises(RuntimeError), open_environment(task.image_id) as env:
        raise RuntimeError("boom inside the episode")
    assert not _containers() - before


def test_oracle_resolves(task: Any) -> None:
    from forager.episode.agent import run_episode
    from forager.trajectory.store import load

    traj = run_episode(task.id, agent="oracle")
    assert traj.resolved and traj.exit_reason == "submitted" and traj.complete
    assert [t.action.tool for t in traj.turns if t.action] == ["bash", "run_tests", "submit"]
    assert GOOD in traj.final_diff and BAD in traj.final_diff
    assert traj.reward and traj.reward.fail_to_pass == {F2P[0]: "passed"}
    stored = load(traj.id or "")
    assert stored.error is None and stored.trajectory.resolved and stored.trajectory.complete
    assert stored.trajectory.image_digest


def _solve_script(call: Any) -> list[dict[str, Any]]:
    return [
        call("view", {"path": CALC_PATH}),
        call("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        call("run_tests", {"tests": F2P}),
        call("submit", {}),
    ]


def test_llm_agent_tool_calls(task: Any) -> None:
    from forager.episode.agent import run_episode

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"content": f"Next: {name}.", "tool_calls": [(name, args)]}

    script = [{"status": 503}, *_solve_script(call)]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, agent="llm", model_url=fake.url, model_name="scripted")
    assert traj.exit_reason == "submitted" and traj.resolved, traj.turns
    assert [t.action.tool for t in traj.turns if t.action] == ["view", "edit", "run_tests", "submit"]
    assert "1 passed" in traj.turns[2].observation
    assert all(t.prompt_tokens > 0 and t.completion_tokens == 20 for t in traj.turns)
    body = fake.requests[-1]["body"]
    assert [t["function"]["name"] for t in body["tools"]][0] == "bash"
    assert body["messages"][-1]["role"] == "tool"
    assert len(fake.requests) == 5  # the 503 was retried
    assert traj.model.name == "scripted" and traj.model.sampling["tool_mode"] == "native"


def test_llm_agent_plain_text_actions(task: Any) -> None:
    from forager.episode.agent import run_episode

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"content": f"I will use {name}.\n" + text_call(name, args), "usage": False}

    script = [{"content": "Let me think without acting."}, *_solve_script(call)]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, model_url=fake.url, model_name="plain", tool_mode="text")
    assert traj.exit_reason == "submitted" and traj.resolved
    assert traj.turns[0].action is None and "No function call" in traj.turns[0].observation
    assert [t.action.tool for t in traj.turns[1:] if t.action] == ["view", "edit", "run_tests", "submit"]
    first = fake.requests[0]["body"]
    assert "tools" not in first and "<function=NAME>" in first["messages"][0]["content"]
    assert fake.requests[1]["body"]["messages"][-1]["role"] == "user"
    assert all(t.prompt_tokens > 0 for t in traj.turns)  # estimated when usage is missing


def test_budget_and_hung_command(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from forager.episode.agent import run_episode

    monkeypatch.setenv("FORAGER_COMMAND_TIMEOUT_S", "2")
    reset_settings()
    script = [{"tool_calls": [("bash", {"command": "sleep 600"})]},
              {"tool_calls": [("bash", {"command": "echo alive"})]},
              {"tool_calls": [("bash", {"command": "echo never"})]}]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, model_url=fake.url, model_name="m", max_steps=2)
    assert traj.exit_reason == "max_steps" and len(traj.turns) == 2 and traj.complete
    assert traj.turns[0].exit_code == 124 and "timed out" in traj.turns[0].observation
    assert traj.turns[0].duration_s < 12
    assert traj.turns[1].observation.strip() == "alive"
    assert traj.reward is not None and not traj.resolved


CHILD = """
import sys
from forager.episode.agent import run_episode
run_episode(sys.argv[1], model_url=sys.argv[2], model_name="m")
"""


def test_crash_mid_episode_leaves_incomplete_trajectory(task: Any) -> None:
    from forager.episode.agent import reap_orphans
    from forager.store import db
    from forager.trajectory.store import load

    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"delay": 60, "tool_calls": [("submit", {})]}]
    before = _containers()
    with FakeModel(script) as fake:
        child = subprocess.Popen([sys.executable, "-c", CHILD, task.id, fake.url], env=dict(os.environ),
                                 cwd=Path(__file__).parent.parent)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(fake.requests) < 2:
                time.sleep(0.2)
            assert len(fake.requests) == 2, "the episode never reached its second model call"
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id).one()
    loaded = load(row.id)
    assert loaded.error is None  # the file is whole ...
    assert not loaded.trajectory.complete and not row.complete  # ... and says it is incomplete
    assert loaded.trajectory.turns[0].observation.strip() == "first"
    assert _containers() - before, "a SIGKILLed episode's container is left for the reaper"
    removed = reap_orphans()
    assert removed and not _containers() - before


def test_cli_run_json_and_sigterm(task: Any) -> None:
    from forager.trajectory.store import load

    forager = [sys.executable, "-m", "forager.cli"]
    done = subprocess.run([*forager, "run", task.id, "--agent", "oracle", "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {"trajectory_id", "task_id", "resolved", "steps", "duration_s", "exit_reason"}
    assert summary["resolved"] is True and summary["steps"] == 3

    bad = subprocess.run([*forager, "run", "task-nope", "--agent", "oracle"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no task" in bad.stderr

    before = _containers()
    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"tool_calls": [("bash", {"command": "sleep 120"})]}]
    with FakeModel(script) as fake:
        child = subprocess.Popen([*forager, "run", task.id, "--model", fake.url, "--model-name", "m",
                                  "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) < 2:
            time.sleep(0.2)
        time.sleep(1.0)  # inside the hung command now
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert not _containers() - before  # removed on the way out
    from forager.store import db

    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id, agent="llm").one()
    loaded = load(row.id)
    assert not loaded.trajectory.complete and loaded.trajectory.exit_reason == "interrupted"
    assert loaded.trajectory.turns[0].observation.strip() == "first"


def test_run_many_with_concurrency_limit(task: Any) -> None:
    from forager.episode.agent import run_many, select_tasks

    assert select_tasks("kind=mutate-fix,repo=minipkg") == [task.id]
    assert select_tasks("kind=implement-feature") == []
    with pytest.raises(ValueError, match="bad task filter"):
        select_tasks("colour=blue")
    seen: list[str] = []
    results = run_many([task.id, task.id, "task-missing"], concurrency=2, agent="oracle",
                       progress=lambda s: seen.append(s.task_id))
    assert [r.resolved for r in results] == [True, True, False]
    assert results[0].trajectory_id != results[1].trajectory_id
    assert results[2].error and not results[2].complete
    assert sorted(seen) == sorted([task.id] * 2 + ["task-missing"])
