"""Images travel through a real registry (Debian's docker-registry, started by deploy/registry.sh):
a validated image is pushed, removed from the local engine, pulled back by its digest, and an
oracle episode runs on it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from needs import unavailable

from forager.config import reset_settings
from forager.jobs.handlers import job_run
from forager.jobs.images import ensure_image, publish_image
from forager.jobs.state import JobContext
from forager.store import campaigns as rows
from forager.store import db

pytestmark = pytest.mark.docker
SCRIPT = Path(__file__).parents[2] / "deploy" / "registry.sh"


@pytest.fixture(scope="module")
def registry_addr() -> str:
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        unavailable(f"no local registry: {proc.stderr[-500:]}")
    return proc.stdout.strip().splitlines()[-1]


def _own_image(runtime: Any, base: str) -> str:
    """A copy of ``base`` with one layer of its own, so removing it really removes bytes."""
    tag = f"forager/regtest-{uuid.uuid4().hex[:8]}:1"
    with runtime.start(base, name=f"forager-regtest-{uuid.uuid4().hex[:8]}") as box:
        box.exec(f"echo {tag} > /opt/regtest-marker", 30)
        box.commit(tag)
    return tag


def test_pushed_image_is_pulled_back_by_digest_and_runs(registry_addr: str, runtime: Any, task: db.Task,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_REGISTRY", f"{registry_addr}/forager-test-{uuid.uuid4().hex[:8]}")
    reset_settings()
    tag = _own_image(runtime, task.image_id)
    with db.session() as s:  # the task, on the image of its own
        img = s.get(db.Image, task.image_id)
        assert img is not None
        s.add(db.Image(id=tag, build_id=img.build_id, digest=runtime.image_digest(tag), source=img.source,
                       python=img.python, test_command=img.test_command))
        s.get(db.Task, task.id).image_id = tag  # type: ignore[union-attr]
    local_id = runtime.image_digest(tag)

    ref = publish_image(tag)
    assert ref is not None and "@sha256:" in ref
    push = rows.get_push(tag, f"{registry_addr}/" + ref.split("/", 2)[1])
    assert push is not None and push.ref == ref
    remote_tag = f"{ref.partition('@')[0]}:1"
    runtime.remove_image(remote_tag)
    runtime.remove_image(tag)
    assert not runtime.image_exists(tag)

    try:  # the episode job finds the image missing and pulls it by digest before it runs
        out = job_run({"task_id": task.id, "agent": "oracle"}, JobContext("job-regtest", 1, "test"))
        assert out["image_source"] == "pulled" and out["resolved"] is True
        assert runtime.image_digest(tag) == local_id  # the same bytes as validated
        assert ensure_image(tag) == "present"
    finally:
        runtime.remove_image(tag)
        runtime.remove_image(ref)
