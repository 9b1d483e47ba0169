"""The episode's sandbox against the real Docker engine: the persistent shell, the tools, the sized
sandbox, process reaping, git state, and containers removed in every case."""

from __future__ import annotations

import time
from typing import Any

import pytest
from minipkg_task import CALC_PATH, F2P, _containers


def test_environment_shell_and_sandbox(task: Any, runtime: Any) -> None:
    from forager.episode.environment import open_environment
    from forager.episode.reward import compute_reward, judge
    from forager.trajectory.schema import Action

    before = _containers(mine=True)
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
        assert "Killed" in obs.output, obs.output  # the shell's note stays with the command it is about
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
    assert not _containers(mine=True) - before  # none of ours left (other processes may run episodes)

    with pytest.raises(RuntimeError), open_environment(task.image_id) as env:
        raise RuntimeError("boom inside the episode")
    assert not _containers(mine=True) - before


def test_sandbox_disk_processes_and_git_state(task: Any) -> None:
    from forager.episode.environment import open_environment

    before = _containers(mine=True)
    with open_environment(task.image_id, task=task) as env:
        # no disk quota before: 2 GiB in 2 s reached the host's disk; now every writable place is sized
        for where in ("/repo/fill", "/tmp/fill", "/var/tmp/fill"):
            obs = env.run(f"head -c 3G /dev/zero > {where}; echo rc=$?", timeout=120)
            assert "No space left on device" in obs.output and "rc=1" in obs.output, obs.output
            env.run(f"rm -f {where}")
        # setsid / nohup escapes end with their command, and so does a timed-out command's tree
        env.run("setsid sleep 300 & nohup sleep 301 >/dev/null 2>&1 &")
        assert env.run("ps -eo args | grep -c '^sleep 30[01]' || true").output.strip() == "0"
        obs = env.run("setsid sleep 302 & sleep 30", timeout=2)
        assert obs.timed_out
        assert env.run("ps -eo args | grep -c '^sleep 30' || true").output.strip() == "0"
        # git in the agent's shell sees the task state: no private index leaked into it
        assert "GIT_INDEX_FILE" not in env.run("env").output
        assert env.run("git status --short").output.split() == ["M", CALC_PATH]
        env.run(f"sed -i 's/+ 1)/)/' {CALC_PATH}")
        assert env.run("git diff --stat").output.strip()
    assert not _containers(mine=True) - before


def test_interrupted_container_creation_leaves_no_container(runtime: Any, monkeypatch: pytest.MonkeyPatch,
                                                            minipkg_build: Any) -> None:
    """A signal that lands while the engine creates the container (after it exists, before the
    call returns) still ends with no container."""
    import subprocess

    from docker.models.containers import ContainerCollection

    real_run = ContainerCollection.run

    def run_then_interrupt(self: Any, *args: Any, **kwargs: Any) -> Any:
        real_run(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(ContainerCollection, "run", run_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        runtime.start(minipkg_build.image, name="forager-trust-interrupted")
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "name=forager-trust-interrupted"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""

