"""A session's container must survive every reaper of other processes: a container inherits its
image's labels, and a Forager image carries the ``forager.build`` and ``forager.owner`` of the build
that made it. Here the image's build owner is a process that is gone, as for any image built
earlier (found when every session on such images was removed by other processes' start-up reapers)."""

from __future__ import annotations

import io
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from session_api import Api, act, open_api

from forager.build.owners import BUILD_LABEL, reap_dead_owners
from forager.episode.reaper import reap_orphans
from forager.owner import OWNER_LABEL
from forager.store import db

pytestmark = pytest.mark.docker


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


@pytest.fixture
def dead_owner_task(task: Any, runtime: Any) -> Iterator[str]:
    """The minipkg task on a copy of its image whose build owner is a dead process of this host."""
    tag = f"forager/minipkg-deadowner:{uuid.uuid4().hex[:8]}"
    dockerfile = (f"FROM {task.image_id}\nLABEL {OWNER_LABEL}={socket.gethostname()}:999999 "
                  f"{BUILD_LABEL}=build-gone\n")
    runtime.client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    with db.session() as s:
        img = s.get(db.Image, task.image_id)
        s.add(db.Image(id=tag, build_id=img.build_id, digest=runtime.image_digest(tag) or "", source=img.source,
                       python=img.python, test_command=img.test_command))
        s.flush()
        row = db.Task(kind="mutate-fix", image_id=tag, setup_patch=task.setup_patch, gold_patch=task.gold_patch,
                      fail_to_pass=task.fail_to_pass, pass_to_pass=task.pass_to_pass,
                      problem_statement=task.problem_statement)
        s.add(row)
        s.flush()
        task_id = row.id
    try:
        yield task_id
    finally:
        runtime.remove_image(tag)


def test_a_sessions_container_survives_the_reapers_of_dead_builds_and_episodes(
        api: Api, dead_owner_task: str) -> None:
    opened = api.client.post("/v1/sessions", headers=api.write, json={"task_id": dead_owner_task})
    assert opened.status_code == 201, opened.text
    sid = opened.json()["id"]
    labels = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Labels}}", f"forager-{sid}"],
                            capture_output=True, text=True, check=True).stdout
    assert '"forager.build":"build-gone"' in labels  # inherited from the image, as any container does
    reap_dead_owners()
    reap_orphans()
    out = act(api, sid, "bash", command="echo still-here")
    assert out.status_code == 200 and out.json()["observation"].strip() == "still-here", out.text
    assert f'"{OWNER_LABEL}":""' in labels  # no process owns a session's container
    assert api.client.delete(f"/v1/sessions/{sid}", headers=api.write).status_code == 200
