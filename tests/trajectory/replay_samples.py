"""Sample trajectories for the replay tests, and the terminal view rendered to a string."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from forager.trajectory import replay
from forager.trajectory.fileformat import LoadResult
from forager.trajectory.schema import Action, Reward, Trajectory, Turn

EDIT = Action(tool="edit", args={"path": "src/calc.py", "old_str": "return a - b", "new_str": "return a + b"})


def sample(steps: int = 4) -> Trajectory:
    turns = [
        Turn(
            index=0,
            model_message="Look around.",
            action=Action(tool="bash", args={"command": "ls"}),
            observation="src\ntests",
            exit_code=0,
            duration_s=0.2,
        ),
        Turn(index=1, model_message="Fix it.", action=EDIT, observation="edited", exit_code=0),
        Turn(
            index=2,
            model_message="Long output.",
            action=Action(tool="bash", args={"command": "seq 100"}),
            observation="\n".join(map(str, range(1, 101))),
            exit_code=0,
        ),
        Turn(
            index=3,
            model_message="Test.",
            action=Action(tool="run_tests", args={}),
            observation="F\n1 failed in 0.03s",
            exit_code=1,
            duration_s=1.5,
        ),
    ]
    return Trajectory(
        id="traj-sample",
        task_id="task-x",
        image="img:1",
        repository="demo",
        turns=turns[:steps],
        problem_statement="add is wrong",
        final_diff="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
        reward=Reward(
            resolved=False,
            fail_to_pass={"tests/test_a.py::test_add": "failed"},
            pass_to_pass={"tests/test_a.py::test_sub": "passed"},
        ),
        exit_reason="submitted",
    )


def render(result: LoadResult, **kw: object) -> str:
    buf = StringIO()
    replay.show(result, Console(file=buf, width=120, color_system=None), **kw)  # type: ignore[arg-type]
    return buf.getvalue()
