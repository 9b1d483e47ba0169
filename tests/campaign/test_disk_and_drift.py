"""Re-validation finds a date bomb (a test that passed at validation and fails later) and marks its
image and tasks drifted; prune removes failed builds' images, unreferenced dependency layers and
stopped containers of dead owners, and keeps validated images."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import docker
import pytest

from forager.campaign.disk import prune
from forager.campaign.revalidate import revalidate
from forager.store import db

pytestmark = pytest.mark.docker


def _commit(runtime: Any, base: str, tag: str, command: str, labels: dict[str, str] | None = None) -> str:
    with runtime.start(base, name=f"forager-{uuid.uuid4().hex[:10]}") as box:
        res = box.exec(command, 60)
        assert res.exit_code == 0, res.output
        box.commit(tag, labels=labels)
    return tag


def test_date_bomb_is_marked_drifted_with_its_tasks(runtime: Any, task: db.Task) -> None:
    deadline = time.time() + 40
    bomb = _commit(runtime, task.image_id, f"forager/bombtest-{uuid.uuid4().hex[:8]}:1",
                   f"printf 'import time\\n\\n\\ndef test_not_expired():\\n    assert time.time() < {deadline}\\n'"
                   " > /repo/tests/test_bomb.py")
    try:
        with db.session() as s:
            img = s.get(db.Image, task.image_id)
            assert img is not None
            s.add(db.Build(id="build-bomb", source="bomb", status="validated", image=bomb))
            s.flush()
            s.add(db.Image(id=bomb, build_id="build-bomb", digest="", source="bomb", python=img.python,
                           test_command=img.test_command))
            s.flush()
            s.add(db.TestResult(build_id="build-bomb", test_id="tests/test_bomb.py::test_not_expired",
                                outcome="passed"))
            s.add(db.Task(kind="mutate-fix", image_id=bomb, setup_patch="", gold_patch=""))
        first = {r.image: r for r in revalidate()}
        assert first[bomb].held and first[task.image_id].held, first
        time.sleep(max(deadline - time.time(), 0) + 1)
        second = {r.image: r for r in revalidate()}
        assert not second[bomb].held and second[task.image_id].held
        assert second[bomb].newly_failing == ["tests/test_bomb.py::test_not_expired"]
        assert second[bomb].tasks_marked == 1
        with db.session() as s:
            assert s.get(db.Image, bomb).status == "drifted"  # type: ignore[union-attr]
            assert {t.status for t in s.query(db.Task).filter(db.Task.image_id == bomb)} == {"drifted"}
            assert s.get(db.Image, task.image_id).status == "validated"  # type: ignore[union-attr]
        assert [r.image for r in revalidate()] == [task.image_id]  # drifted images are not re-checked
    finally:
        runtime.remove_image(bomb)


def test_prune_removes_only_what_nothing_needs(runtime: Any, task: db.Task) -> None:
    mark = f"prunetest{uuid.uuid4().hex[:8]}"
    farm = db.farm_id()
    base = task.image_id
    failed = _commit(runtime, base, f"forager/{mark}-failed:1-{farm}", "head -c 3000000 /dev/urandom > /opt/x")
    kept = _commit(runtime, base, f"forager/{mark}-ok:1-{farm}", "true")
    deps = _commit(runtime, base, f"forager/deps:{mark}", "head -c 3000000 /dev/urandom > /opt/y")
    with db.session() as s:
        build_id = s.get(db.Image, base).build_id  # type: ignore[union-attr]
        for tag, status in ((failed, "failed"), (kept, "validated")):
            s.add(db.Image(id=tag, build_id=build_id, digest="", source=mark, python="3.11",
                           test_command="pytest", status=status))
    client = docker.from_env()
    dead_owner = f"{socket.gethostname()}:999999999"
    stopped = client.containers.create(base, name=f"forager-{mark}", command=["true"],
                                       labels={"forager": "1", "forager.owner": dead_owner})
    try:
        dry = prune(min_age_h=0, dry_run=True, match=mark).summary()
        assert runtime.image_exists(failed) and dry["containers_removed"] == [f"forager-{mark}"]
        out = prune(min_age_h=0, match=mark).summary()
        assert set(out["images_removed"]) == {failed, deps}
        assert out["containers_removed"] == [f"forager-{mark}"]
        assert not runtime.image_exists(failed) and not runtime.image_exists(deps)
        assert runtime.image_exists(kept) and runtime.image_exists(base)
        assert out["bytes_freed"] >= 5_000_000
    finally:
        for tag in (failed, kept, deps):
            runtime.remove_image(tag)
        runtime.remove_container(stopped.id)
