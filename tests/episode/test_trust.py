"""Cheating agents: each attack an adversarial review found, played through the scripted model
server against the real engine, must earn no reward."""

from __future__ import annotations

import json
from typing import Any

from fake_model import FakeModel
from minipkg_task import BAD, CALC_PATH, F2P, FIXTURES, GOOD

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
    from forager.episode.run import run_episode

    with FakeModel([call(n, a) for n, a in actions]) as fake:
        return run_episode(task_id, agent="llm", model_url=fake.url, model_name="cheater")


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



ATOMIC_FIX = f'''cd /repo && python - <<'__PY__'
import os, tempfile
path = "{CALC_PATH}"
text = open(path).read().replace("{BAD}", "{GOOD}")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))  # mode 0600, as atomic writers leave it
os.write(fd, text.encode()); os.close(fd); os.replace(tmp, path)
__PY__
mkdir -p .hypothesis/examples && chmod 700 .hypothesis/examples && echo x > .hypothesis/examples/e \\
  && chmod 600 .hypothesis/examples/e && stat -c %a {CALC_PATH}'''


def test_honest_fix_written_with_private_permissions_is_judged(task: Any) -> None:
    """A fix saved by an atomic writer (mkstemp: mode 0600) and a private cache folder (hypothesis
    writes its own so) are read by the judge: the reward was lost to 'Permission denied' once,
    since root in the sandbox holds no capability to read other users' private files."""
    traj = episode(task.id, [("bash", {"command": ATOMIC_FIX}), ("submit", {})])
    assert traj.turns[0].observation.strip().splitlines()[-1] == "600", traj.turns[0].observation
    assert traj.reward is not None and not traj.reward.flags, traj.reward.flags
    assert traj.resolved and GOOD in traj.final_diff and ".hypothesis" not in traj.final_diff


MTIME_TEST = '''\
import os


def test_sets_the_times_of_a_package_file():
    # as jinja2's test_caches_template_based_on_mtime does: explicit times need the file's owner
    path = os.path.join(os.path.dirname(__file__), "..", "src", "minipkg", "__init__.py")
    os.utime(path, (1, 1))
    assert os.stat(path).st_mtime == 1
'''


def test_a_test_that_sets_file_times_passes_where_the_reward_is_judged(task: Any) -> None:
    """The image's /repo belongs to root, who built it, validated it and made its tasks; the agent
    and the judge run as an unprivileged user. A test that sets a file's times passed everywhere a
    task is made and failed every judged episode (jinja2's ``os.utime`` test was in PASS_TO_PASS of
    three evidence tasks): the sandbox's workspace now belongs to the user who runs its tests."""
    from minipkg_task import udiff

    from forager.store import db

    with db.session() as s:
        row = db.Task(kind="mutate-fix", image_id=task.image_id,
                      setup_patch=task.setup_patch + udiff("", MTIME_TEST, "tests/test_mtime.py").replace(
                          "--- a/tests/test_mtime.py", "--- /dev/null"),
                      gold_patch=task.gold_patch, fail_to_pass=list(task.fail_to_pass),
                      pass_to_pass=[*task.pass_to_pass, "tests/test_mtime.py::test_sets_the_times_of_a_package_file"],
                      problem_statement=task.problem_statement)
        s.add(row)
        s.flush()
        task_id = row.id
    traj = episode(task_id, [
        ("bash", {"command": "stat -c %u /repo/src/minipkg/__init__.py"}),
        ("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        ("submit", {}),
    ])
    assert traj.turns[0].observation.strip().splitlines()[-1] == "7000", traj.turns[0].observation
    assert traj.reward is not None and not traj.reward.flags, traj.reward.flags
    assert traj.reward.pass_to_pass.get("tests/test_mtime.py::test_sets_the_times_of_a_package_file") == "passed", \
        traj.reward.pass_to_pass
    assert traj.resolved


def test_a_link_the_agent_plants_in_repo_opens_no_system_file() -> None:
    """Opening /repo to the user never follows a link: the sandbox's root owns /etc/passwd too."""
    from forager.episode.environment import MAKE_USER, REPO
    from forager.runtime import Limits, get_runtime

    box = get_runtime().start("forager/base:3.11", limits=Limits(network=False, disk_mb=64), workspace=REPO)
    try:
        box.exec(f"ln -s /etc/passwd {REPO}/passwd && ln -s /etc {REPO}/etc", 30)
        assert box.exec(MAKE_USER, 60).exit_code == 0
        modes = box.exec("stat -c %a /etc/passwd /etc", 30).output.split()
        assert modes == ["644", "755"], modes
    finally:
        box.remove()
