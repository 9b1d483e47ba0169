"""A campaign run killed with SIGKILL in the middle, then run again: every item ends once, nothing
is made twice; and a cancelled run stops new work and removes its containers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from campaign_sources import fixture, released_minipkg, sources_file

from forager.build.owners import BUILD_LABEL
from forager.store import campaigns as rows
from forager.store import db

pytestmark = pytest.mark.docker
FORAGER = str(Path(sys.executable).parent / "forager")
FAST = {"FORAGER_CAMPAIGN_POLL_S": "0.5", "FORAGER_JOB_LEASE_S": "3", "FORAGER_CAMPAIGN_CANCEL_WAIT_S": "120"}


def _forager(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([FORAGER, *args], env={**os.environ, **FAST, "FORAGER_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=(home / "run.log").open("ab"), start_new_session=True)


def _wait_for(what: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        assert proc.poll() is None, f"campaign run exited early with {proc.returncode}"
        time.sleep(0.5)
    raise AssertionError("timed out")


def _create(home: Path, tmp_path: Path, episodes: int = 1) -> str:
    repo = released_minipkg(tmp_path / "minipkg-git")
    src = sources_file(tmp_path / "sources.txt", [str(repo), fixture("notests")])
    create = _forager(home, "campaign", "create", "c1", "--sources", str(src), "--versions-per-source", "2",
                      "--tasks", "mutate-fix=1", "--episodes-per-task", str(episodes), "--json")
    assert create.wait(120) == 0
    return rows.get_campaign("c1").id


def _stage_state(cid: str, stage: str, state: str) -> int:
    return rows.counts(cid).get(stage, {}).get(state, 0)


def test_killed_run_resumes_without_duplicates(runtime: object, forager_home: Path, tmp_path: Path) -> None:
    cid = _create(forager_home, tmp_path, episodes=2)
    first = _forager(forager_home, "campaign", "run", "c1", "--concurrency", "1")
    # killed while the first image's tasks are being made (stages overlap: a build may run too)
    _wait_for(lambda: _stage_state(cid, "tasks", "running") >= 1, 900, first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    assert rows.get_campaign(cid).runner is not None  # left behind by the dead runner

    second = _forager(forager_home, "campaign", "run", "c1", "--concurrency", "2", "--json")
    assert second.wait(1500) == 0, (forager_home / "run.log").read_text()[-3000:]
    counts = rows.counts(cid)
    assert counts["build"] == {"done": 2, "failed": 1}
    assert counts["tasks"] == {"done": 2} and counts["episode"] == {"done": 4}
    with db.session() as s:
        images = s.query(db.Image).filter(db.Image.status == "validated").count()
        tasks = s.query(db.Task).count()
    assert images == 2 and tasks == 2  # one image per release, one task per image: nothing made twice
    episodes = rows.items(cid, "episode")
    trajectories = [e.result["trajectory_id"] for e in episodes]
    assert len(set(trajectories)) == 4
    assert all(e.result["resolved"] for e in episodes), [(e.key, e.result) for e in episodes]
    assert sorted(e.key for e in episodes) == sorted({e.key for e in episodes})
    assert rows.get_campaign(cid).runner is None and rows.get_campaign(cid).state == "done"


def test_cancel_stops_new_work_and_removes_containers(runtime, forager_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = _create(forager_home, tmp_path)
    proc = _forager(forager_home, "campaign", "run", "c1", "--concurrency", "1")
    running: list[db.CampaignItem] = []

    def build_container_up() -> bool:
        running[:] = rows.items(cid, "build", ["running"])
        return bool(running) and bool(runtime.containers({BUILD_LABEL: None}))

    _wait_for(build_container_up, 600, proc)
    cancel = _forager(forager_home, "campaign", "cancel", "c1", "--json")
    assert cancel.wait(60) == 0
    assert proc.wait(300) == 1  # the run ended, reporting the cancellation
    counts = rows.counts(cid)
    assert counts["build"].get("pending", 0) == 0 and counts["build"].get("running", 0) == 0
    assert counts["build"].get("cancelled", 0) >= 2
    assert not counts.get("tasks") and not counts.get("episode")
    assert rows.get_campaign(cid).state == "cancelled"
    from forager.jobs.handlers import build_id_for

    for item in running:
        assert runtime.containers({BUILD_LABEL: build_id_for(item.job_id or "")}) == []
