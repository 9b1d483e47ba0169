"""Cheating agents and sandbox escapes: each attack an adversarial review found, played through the
scripted model server against the real engine, must earn no reward and hold no resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_model import FakeModel
from minipkg_task import BAD, CALC_PATH, F2P, FIXTURES, GOOD, _containers

from forager.episode.reward import classify, infra_reason, machinery_flags, pytest_section

CHEAT_CONFTEST = '''\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
'''


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"content": f"Next: {name}.", "tool_calls": [(name, args)]}


def episode(task_id: str, actions: list[tuple[str, dict[str, Any]]]) -> Any:
    from forager.episode.agent import run_episode

    with FakeModel([call(n, a) for n, a in actions]) as fake:
        return run_episode(task_id, agent="llm", model_url=fake.url, model_name="cheater")


# ----------------------------------------------------------------------------- critical attacks
def test_conftest_that_turns_failures_into_passes_earns_nothing(task: Any) -> None:
    traj = episode(task.id, [
        ("create", {"path": "conftest.py", "content": CHEAT_CONFTEST}),
        ("run_tests", {"tests": F2P}),
        ("submit", {}),
    ])
    # the cheat works inside the agent's own container ...
    assert "1 passed" in traj.turns[1].observation, traj.turns[1].observation
    # ... and earns nothing where the reward is judged: flagged, kept, the real outcome recorded
    assert traj.complete and traj.reward is not None and not traj.resolved
    assert traj.reward.fail_to_pass == {F2P[0]: "failed"}
    assert any("conftest.py" in f for f in traj.reward.flags), traj.reward.flags
    assert "conftest.py" in traj.final_diff and "conftest.py" in traj.reward.restored


def test_report_appender_left_running_earns_nothing(task: Any) -> None:
    from forager.build.testrun import REPORT_PATH

    line = json.dumps({"id": F2P[0], "outcome": "passed", "duration": 0.0})
    loop = f"while true; do echo '{line}' >> {REPORT_PATH}; sleep 0.05; done"
    traj = episode(task.id, [
        ("bash", {"command": f"setsid nohup bash -c {json.dumps(loop)} >/dev/null 2>&1 & sleep 1; "
                            f"grep -c passed {REPORT_PATH}"}),
        ("bash", {"command": "ps -eo pid,args | grep -c '[w]hile true' || true"}),
        ("submit", {}),
    ])
    assert int(traj.turns[0].observation.split()[0]) > 0  # the appender ran
    assert traj.turns[1].observation.split()[0] == "0"  # and did not outlive its command
    assert traj.final_diff == "" and not traj.resolved
    assert traj.reward is not None and traj.reward.fail_to_pass == {F2P[0]: "failed"}


def test_pytest_configuration_and_shadow_modules_are_flagged(task: Any) -> None:
    from pathlib import Path


    pyproject = (FIXTURES / "minipkg" / "pyproject.toml").read_text()
    cheat = pyproject + f'\n[tool.pytest.ini_options]\naddopts = "--deselect {F2P[0]}"\n'
    traj = episode(task.id, [
        ("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        ("create", {"path": "pyproject.toml", "content": cheat}),
        ("create", {"path": "src/forager_report.py", "content": "# shadows the reporter\n"}),
        ("submit", {}),
    ])
    assert Path(CALC_PATH).name in traj.final_diff
    assert traj.reward is not None and not traj.resolved
    flags = " ".join(traj.reward.flags)
    assert "pytest configuration changed: pyproject.toml" in flags
    assert "src/forager_report.py" in flags
    assert traj.reward.fail_to_pass == {F2P[0]: "passed"}  # the fix itself was carried and judged


def test_source_change_that_patches_pytest_is_flagged(task: Any) -> None:
    patch = GOOD + "\n\nimport _pytest.reports  # noqa\n_pytest.reports.TestReport.failed = property(lambda s: False)"
    traj = episode(task.id, [
        ("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": patch}),
        ("submit", {}),
    ])
    assert traj.reward is not None and not traj.resolved
    assert any("test machinery" in f and CALC_PATH in f for f in traj.reward.flags), traj.reward.flags


def test_honest_fix_with_edited_tests_and_a_huge_file(task: Any) -> None:
    """Edits to test files are dropped (not flagged); a 200 MB file is left out of the diff, named."""
    traj = episode(task.id, [
        ("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        ("bash", {"command": "echo '# my note' >> tests/test_calc.py && head -c 200M /dev/urandom > blob.bin"}),
        ("submit", {}),
    ])
    assert traj.resolved and traj.reward is not None and not traj.reward.flags
    assert traj.reward.restored == ["blob.bin", "tests/test_calc.py"]
    assert GOOD in traj.final_diff and "blob.bin" not in traj.final_diff


# ----------------------------------------------------------------------------- the sandbox
def test_sandbox_disk_processes_and_git_state(task: Any) -> None:
    from forager.episode.agent import open_environment

    before = _containers()
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
    assert not _containers() - before


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


# ----------------------------------------------------------------------------- classification (no Docker)
def test_classify_paths() -> None:
    changes = {"src/pkg/a.py": "M", "tests/test_a.py": "M", "conftest.py": "A", "src/pkg/tests/x.py": "A",
               "pkg/sitecustomize.py": "A", "x.pth": "A", "pytest.ini": "A", "src/_pytest/runner.py": "A",
               "setup.cfg": "M", "tox.ini": "M", "README.md": "M", "lib_test.py": "A"}
    configs = {"setup.cfg": ("[metadata]\nname = a\n", "[metadata]\nname = b\n"),
               "tox.ini": ("[tox]\nenvlist = py3\n", "[tox]\nenvlist = py3\n[pytest]\naddopts = -x\n")}
    out = classify(changes, {"tests/test_a.py"}, configs)
    assert out.carried == ["README.md", "setup.cfg", "src/pkg/a.py"]
    assert out.restored == sorted(set(changes) - set(out.carried))
    assert len(out.flags) == 6 and all("tests/" not in f for f in out.flags)
    assert infra_reason("src/pluggy/__init__.py").startswith("module shadowing")
    assert infra_reason("src/pkg/core.py") == ""


def test_pytest_sections_and_machinery() -> None:
    assert pytest_section("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-q"\n') == {
        "ini_options": {"addopts": "-q"}}
    assert pytest_section("pyproject.toml", "[project]\nname = 'a'\n") is None
    assert pytest_section("setup.cfg", "not ini [") == "not ini ["
    patch = "+++ b/a.py\n+import _pytest.runner\n-old\n"
    assert machinery_flags({"a.py": patch}, {"a.py": "x = 1\n"})
    assert not machinery_flags({"a.py": patch}, {"a.py": "import pytest\nfrom _pytest import nodes\n"})
    assert not machinery_flags({"a.py": "+x = 2\n"}, {"a.py": None})


def test_sigkilled_run_is_reaped_by_the_next_command(task: Any) -> None:
    """kill -9 of ``forager run`` left its container and a trajectory 'running' forever; the
    next Forager command now removes the one and ends the other as interrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from forager.store import db
    from forager.trajectory.store import load

    forager = [sys.executable, "-m", "forager.cli"]
    before = _containers()
    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"tool_calls": [("bash", {"command": "sleep 120"})]}]
    with FakeModel(script) as fake:
        child = subprocess.Popen([*forager, "run", task.id, "--model", fake.url, "--model-name", "m"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) < 2:
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    left = _containers() - before
    assert left, "the killed run left no container: nothing to reap (the test proves nothing)"
    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id).one()
    assert load(row.id).trajectory.exit_reason == "running"

    done = subprocess.run([*forager, "trajectories", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not _containers() & left
    after = load(row.id).trajectory
    assert after.exit_reason == "interrupted" and not after.complete and "died" in after.meta["error"]


def test_server_model_key_goes_only_to_trusted_endpoints(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on a caller-chosen endpoint carried FORAGER_MODEL_API_KEY there; now only trusted
    endpoints (FORAGER_MODEL_URL, FORAGER_MODEL_ENDPOINTS) get it, others the caller's key or none."""
    from forager.config import reset_settings
    from forager.episode.agent import run_episode

    monkeypatch.setenv("FORAGER_MODEL_API_KEY", "server-secret")
    monkeypatch.setenv("FORAGER_MODEL_URL", "http://127.0.0.1:9/v1")
    reset_settings()
    seen = []
    for caller_key, trusted in ((None, False), ("caller-key", False), (None, True)):
        with FakeModel([call("submit", {})]) as fake:
            if trusted:
                monkeypatch.setenv("FORAGER_MODEL_ENDPOINTS", fake.url)
                reset_settings()
            run_episode(task.id, agent="llm", model_url=fake.url, model_name="m", api_key=caller_key)
            seen.append(fake.requests[0]["auth"])
    assert seen == [None, "Bearer caller-key", "Bearer server-secret"]
