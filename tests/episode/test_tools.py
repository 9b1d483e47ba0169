"""The agent's tools over the LocalRuntime (no Docker engine): view, edit, create, run_tests,
submit, and bad calls answered with error observations."""

from __future__ import annotations

from typing import Any

from local_minipkg import IMAGE, local_task  # noqa: F401 - fixture
from minipkg_task import BAD, CALC_PATH, F2P, GOOD

from forager.episode import tools
from forager.episode.tools import HANDLERS, TOOL_NAMES, TOOLS
from forager.trajectory.schema import Action


def test_every_tool_has_a_handler_and_a_schema() -> None:
    assert TOOL_NAMES == ["bash", "view", "edit", "create", "run_tests", "submit"]
    assert set(HANDLERS) == set(TOOL_NAMES)
    assert all(t["function"]["parameters"]["type"] == "object" for t in TOOLS)


def test_command_narrowed_to_tests() -> None:
    assert tools.test_command_for("pytest -q tests", None) == "pytest -q tests"
    assert tools.test_command_for("pytest -q tests", ["a.py::t"]) == "pytest -q a.py::t"
    assert tools.test_command_for("python -m pytest -p xdist tests", ["b"]) == "python -m pytest -p xdist b"
    assert tools.test_command_for("pytest --ignore build", ["c"]) == "pytest --ignore build c"


def test_tools_in_a_local_sandbox(local_task: Any) -> None:  # noqa: F811
    from forager.episode.environment import open_environment

    def do(tool: str, **args: Any) -> Any:
        return env.execute(Action(tool=tool, args=args))

    with open_environment(IMAGE, runtime=local_task.runtime, task=local_task.id) as env:
        assert env.user == "root"  # a runtime without containers never gets a user added
        obs = do("view", path=CALC_PATH, start_line=1, end_line=5)
        assert obs.exit_code == 0 and "def mean" in obs.output and "(lines 1-5 of" in obs.output
        assert "calc.py" in do("view", path="src/minipkg").output
        obs = do("edit", path=CALC_PATH, old_str="values", new_str="x")
        assert obs.exit_code == 1 and "appears" in obs.output
        obs = do("edit", path=CALC_PATH, old_str="no such text", new_str="x")
        assert obs.exit_code == 1 and "not found" in obs.output
        obs = do("edit", path=CALC_PATH, old_str=BAD, new_str=GOOD)
        assert obs.exit_code == 0 and GOOD in obs.output
        obs = do("create", path="notes/todo.txt", content="hello\n")
        assert obs.exit_code == 0 and obs.output.startswith("created")
        assert do("create", path="notes/todo.txt", content="again\n").output.startswith("overwrote")
        assert do("bash", command="cat notes/todo.txt").output == "again\n"
        obs = do("run_tests", tests=F2P)
        assert obs.exit_code == 0 and "1 passed" in obs.output
        assert do("submit").output == "submitted"
        obs = do("bogus")
        assert obs.exit_code is None and "unknown tool" in obs.output
        assert "bad arguments" in do("bash", cmd="ls").output
        assert "bad arguments" in do("view", path=CALC_PATH, start_line="first").output
        assert env.base_tree and env.snapshot_tree() != env.base_tree
    assert not local_task.runtime.sandboxes
