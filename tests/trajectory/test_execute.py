"""Re-execution in a fresh container (forager.trajectory.replay.execute): image choice, and real replays on Docker."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forager.cli.main import app
from forager.store import db
from forager.trajectory import fileformat, replay
from forager.trajectory.replay.execute import resolve_image
from forager.trajectory.schema import Action, Reward, Trajectory, Turn


def test_resolve_image_prefers_the_recorded_digest() -> None:
    present = {"sha256:aaa": "sha256:aaa", "img:1": "sha256:aaa", "img:2": "sha256:bbb"}
    exists, digest = present.__contains__, present.get
    t = Trajectory(image="img:1", image_digest="sha256:aaa")
    assert resolve_image(t, exists, digest) == ("sha256:aaa", [])
    t = Trajectory(image="img:2")
    image, notes = resolve_image(t, exists, digest)
    assert image == "sha256:bbb" and "no image digest recorded" in notes[0]
    with pytest.raises(replay.ReplayError, match="refusing"):
        resolve_image(Trajectory(image="img:2", image_digest="sha256:ccc"), exists, digest)
    with pytest.raises(replay.ReplayError, match="image not available"):
        resolve_image(Trajectory(image="img:9"), exists, digest)


# ----------------------------------------------------------------------------- re-execution (Docker)
def _patch(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
    return "".join(lines)


@pytest.fixture
def clamp_task(minipkg_build, runtime) -> str:  # type: ignore[no-untyped-def]
    """A task on the minipkg image: clamp() broken by the setup patch, fixed by the gold patch."""
    r = minipkg_build
    source = (Path(__file__).parents[1] / "fixtures/minipkg/src/minipkg/calc.py").read_text()
    broken = source.replace("return max(low, min(value, high))", "return min(low, max(value, high))")
    path = "src/minipkg/calc.py"
    with db.session() as s:
        s.add(db.Build(id=r.build_id, source=r.source, status="validated", image=r.image))
        s.add(
            db.Image(
                id=r.image,
                build_id=r.build_id,
                digest=runtime.image_digest(r.image),
                source=r.source,
                python=r.python or "3.11",
                test_command=r.test_command,
            )
        )
        s.add(
            db.Task(
                id="task-clamp",
                image_id=r.image,
                kind="mutate-fix",
                setup_patch=_patch(path, source, broken),
                gold_patch=_patch(path, broken, source),
                fail_to_pass=["tests/test_calc.py::test_clamp"],
                pass_to_pass=["tests/test_calc.py::test_mean"],
                problem_statement="clamp is wrong",
            )
        )
    return "task-clamp"


@pytest.mark.docker
def test_oracle_trajectory_reproduces_and_tampering_is_found(clamp_task: str, tmp_path: Path) -> None:
    from forager.episode.run import run_episode

    traj = run_episode(clamp_task, agent="oracle")
    assert traj.resolved and traj.image_digest
    report = replay.reexecute(traj.id or "")
    assert report.error is None, report.error
    assert report.reproduces, report.to_dict()
    assert report.counts["match"] == len(traj.turns) and report.reward["same"]
    assert report.image == traj.image_digest

    # a recorded observation and the reward changed: the first divergence and the reward are reported
    tampered = traj.model_copy(deep=True)
    tampered.turns[1].observation = tampered.turns[1].observation.replace("1 passed", "2 passed")
    tampered.reward = Reward(
        resolved=False,
        fail_to_pass={"tests/test_calc.py::test_clamp": "failed"},
        pass_to_pass={"tests/test_calc.py::test_mean": "passed"},
    )
    path = tmp_path / "tampered.jsonl.gz"
    fileformat.write(tampered, path)
    r = CliRunner().invoke(app, ["replay", str(path), "--execute", "--json"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["first_divergence"] == 1 and data["counts"] == {"match": 2, "diverged": 1, "no-action": 0}
    assert "-" in data["steps"][1]["detail"] and "2 passed" in data["steps"][1]["detail"]
    assert data["reward"]["same"] is False and data["reward"]["replayed"] is True


@pytest.mark.docker
def test_trajectory_without_task_or_digest_replays_its_steps(
    clamp_task: str, minipkg_build, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An outside agent's trajectory: image tag only, no task, no exit codes; one malformed call."""
    turns = [
        Turn(
            index=0,
            action=Action(tool="bash", args={"command": "cd /repo && grep -c def src/minipkg/calc.py"}),
            observation="4\n",
            exit_code=None,
        ),
        Turn(
            index=1,
            action=Action(tool="bash", args={"command": "date; echo $RANDOM > /dev/null; ls /tmp"}),
            observation="Mon Jan  5 10:00:00 UTC 2026\n",
            exit_code=0,
        ),
        Turn(index=2, model_message="no tool call"),
        Turn(
            index=3, action=Action(tool="frobnicate", args={}), observation="error: could not parse the call"
        ),
    ]
    traj = Trajectory(
        id="traj-outside", image=minipkg_build.image, agent="outside", turns=turns, exit_reason="done"
    )
    path = tmp_path / "outside.jsonl.gz"
    fileformat.write(traj, path)
    report = replay.reexecute(str(path))
    assert report.error is None, report.error
    assert [s.status for s in report.steps] == ["match", "diverged", "no-action", "match"], report.to_dict()
    assert report.first_divergence == 1 and not report.reproduces
    assert any("no image digest recorded" in n for n in report.notes)
    assert report.reward == {}


@pytest.mark.docker
def test_missing_image_is_a_clear_error(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.jsonl.gz"
    fileformat.write(Trajectory(image="forager/nope:none", image_digest="sha256:" + "0" * 64), path)
    report = replay.reexecute(str(path))
    assert report.error and "image not available" in report.error and not report.reproduces
    assert CliRunner().invoke(app, ["replay", str(path), "--execute"]).exit_code == 2
