"""Hand-written SWE-bench instances (``tests/fixtures/tinyinv/instances.jsonl``) for the tinyinv
fixture repository, made into a git repository at test time: the repository is built from
``--source`` at ``base_commit``, good rows become tasks an agent resolves, bad ones are reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from forager.store import db
from forager.store.tasks_db import get_task
from forager.tasks.swebench_export import export_swebench
from forager.tasks.swebench_import import import_swebench

pytestmark = pytest.mark.docker
FIXTURE = Path(__file__).parents[1] / "fixtures" / "tinyinv"
INSTANCES = FIXTURE / "instances.jsonl"
BASE = json.loads(INSTANCES.read_text().splitlines()[0])["base_commit"]
GIT_ENV = {"GIT_AUTHOR_NAME": "tinyinv", "GIT_AUTHOR_EMAIL": "tinyinv@example.com", "GIT_COMMITTER_NAME": "tinyinv",
           "GIT_COMMITTER_EMAIL": "tinyinv@example.com", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
           "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000"}
EXPECTED = [
    ("tinyinv__tinyinv-8", "rejected", "FAIL_TO_PASS: Value error, not a JSON list"),
    ("tinyinv__tinyinv-9", "rejected", "patch: Field required"),
    ("row 10", "rejected", "line 10 is not JSON"),
    ("tinyinv__tinyinv-11", "rejected", "base_commit: Value error, not a git commit id"),
    ("tinyinv__tinyinv-1", "rejected", "instance_id repeated in the file"),
    ("row 13", "rejected", "not an object but list"),
    ("tinyinv__tinyinv-1", "imported", ""),
    ("tinyinv__tinyinv-2", "imported", ""),
    ("tinyinv__tinyinv-3", "rejected",
     "FAIL_TO_PASS passes before the gold patch: tests/test_inventory.py::test_total"),
    ("tinyinv__tinyinv-4", "rejected", "the gold patch does not apply"),
    ("tinyinv__tinyinv-5", "rejected",
     "PASS_TO_PASS does not pass in the task state: tests/test_inventory.py::test_no_such_test"),
    ("tinyinv__tinyinv-7", "duplicate", "same task as "),
    ("tinyinv__tinyinv-6", "rejected", "no validated image of nobody/nothing and no source to build it"),
]


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True,
                         text=True, env={**os.environ, **GIT_ENV})
    return out.stdout.strip()


@pytest.fixture
def tinyinv(tmp_path: Path) -> Path:
    """The fixture files as a git repository: the buggy release (``BASE``, the same id every time:
    fixed author and dates), then a later commit that only adds a README."""
    repo = tmp_path / "tinyinv"
    shutil.copytree(FIXTURE / "repo", repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "tinyinv 0.1")
    assert _git(repo, "rev-parse", "HEAD") == BASE
    (repo / "README.md").write_text("tinyinv: a tiny inventory\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-qm", "readme")
    return repo


def _outcomes(result: object) -> list[tuple[str, str, str]]:
    return [(o.row, o.status, o.reason) for o in result.outcomes]  # type: ignore[attr-defined]


def _builds() -> int:
    with db.session() as s:
        return s.query(db.Build).count()


def test_hand_written_instances_build_validate_and_resolve(runtime, tinyinv: Path) -> None:  # type: ignore[no-untyped-def]
    from forager.episode.run import run_episode

    result = import_swebench(INSTANCES, {"tinyinv/tinyinv": str(tinyinv)})
    got = _outcomes(result)
    assert [(r, s) for r, s, _ in got] == [(r, s) for r, s, _ in EXPECTED]
    for (_, _, reason), (_, _, said) in zip(got, EXPECTED, strict=True):
        assert reason.startswith(said), (reason, said)
    imported = {o.row: o.task_id for o in result.outcomes if o.status == "imported"}
    assert result.outcomes[11].task_id == imported["tinyinv__tinyinv-1"]  # the duplicate names the first
    task = get_task(imported["tinyinv__tinyinv-1"] or "")
    assert task is not None and task.kind == "from-history" and task.meta["origin"] == "imported"
    assert task.meta["base_commit"] == BASE and task.meta["image_commit"] == BASE  # built at base_commit
    out = tinyinv.parent / "again.jsonl"
    assert export_swebench(out, f"image={task.image_id}").skipped == {}
    assert {r["base_commit"] for r in map(json.loads, out.read_text().splitlines())} == {BASE}  # exported again
    assert task.fail_to_pass == ["tests/test_inventory.py::test_take_never_below_zero"]
    assert "test_take_never_below_zero" in task.setup_patch and "max(left, 0)" in task.gold_patch
    with db.session() as s:
        image = s.get(db.Image, task.image_id)
        assert image is not None and image.source == str(tinyinv) and image.commit == BASE
    traj = run_episode(task.id, agent="oracle")  # an imported task is a task like any other
    assert traj.resolved and traj.reward is not None
    builds = _builds()
    again = import_swebench(INSTANCES, {"tinyinv/tinyinv": str(tinyinv)})  # the image is found, not rebuilt
    assert _builds() == builds
    assert [(o.row, o.status) for o in again.outcomes if o.row in imported] == [
        ("tinyinv__tinyinv-1", "rejected"), ("tinyinv__tinyinv-1", "duplicate"), ("tinyinv__tinyinv-2", "duplicate")]


def test_an_image_at_a_later_commit_serves_rows_at_an_earlier_one(runtime, tinyinv: Path,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    from forager.build.builder import build

    built = build(str(tinyinv))  # HEAD: the README commit, one after BASE
    assert built.status == "validated", built.error
    rows = [json.loads(line) for line in INSTANCES.read_text().splitlines()[:2]]
    (tmp_path / "two.jsonl").write_text("".join(json.dumps({**r, "repo": str(tinyinv)}) + "\n" for r in rows))
    result = import_swebench(tmp_path / "two.jsonl")  # no --source: the image's history holds BASE
    assert [(o.status, o.image) for o in result.outcomes] == [("imported", built.image)] * 2
    task = get_task(result.outcomes[0].task_id or "")
    assert task is not None and "README.md" in task.setup_patch  # the README commit taken back out
    out = tmp_path / "again.jsonl"
    assert export_swebench(out).skipped == {}  # exported again: base_commit is BASE, not a state commit
    assert [r["base_commit"] for r in map(json.loads, out.read_text().splitlines())] == [BASE, BASE]
