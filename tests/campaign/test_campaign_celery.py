"""A campaign through Celery workers on the real Redis and PostgreSQL: the worker running a build is
killed with SIGKILL, a new worker starts, and the campaign ends with the counts of an uninterrupted
run and nothing made twice."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign_sources import fixture, released_minipkg

from forager import jobs
from forager.campaign.plan import create
from forager.campaign.runner import limits_of, run
from forager.config import reset_settings
from forager.enums import JobState
from forager.store import campaigns as rows
from forager.store import db


def _distributed() -> object:
    """The distributed-mode tests' module (its services fixture and Worker), imported once."""
    if "test_distributed" not in sys.modules:
        path = Path(__file__).parents[1] / "jobs" / "test_distributed.py"
        spec = importlib.util.spec_from_file_location("test_distributed", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["test_distributed"] = module
        spec.loader.exec_module(module)
    return sys.modules["test_distributed"]


_d = _distributed()
Services, Worker = _d.Services, _d.Worker  # type: ignore[attr-defined]
services, settings_env = _d.services, _d.settings_env  # type: ignore[attr-defined]  # fixtures
pytestmark = [pytest.mark.services, pytest.mark.docker]
LONG = {"FORAGER_JOB_TIME_LIMIT_S": "1800", "FORAGER_JOB_VISIBILITY_TIMEOUT_S": "2000",
        "FORAGER_JOB_LEASE_S": "4", "FORAGER_CAMPAIGN_POLL_S": "0.5"}


@pytest.fixture
def farm(settings_env: Services, forager_home: Path, tmp_path: Path,  # type: ignore[valid-type]
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, str], list[Worker]]]:
    for k, v in LONG.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    env = {**settings_env.env, **LONG, "FORAGER_HOME": str(forager_home)}
    started: list[Worker] = []
    try:
        yield env, started
    finally:
        for w in started:
            w.stop()


def _worker(env: dict[str, str], name: str, log: Path) -> Worker:
    w = Worker(name, "build,tasks,agent", env, log)
    w.wait_ready()
    return w


def test_worker_killed_campaign_resumes_to_same_counts(runtime: object, farm: tuple[dict[str, str], list[Worker]],
                                                       tmp_path: Path) -> None:
    env, started = farm
    started.append(_worker(env, "cw1", tmp_path / "cw1.log"))
    repo = released_minipkg(tmp_path / "minipkg-git")
    camp = create("celery-c", {"sources": [str(repo), fixture("notests")], "versions_per_source": 2,
                               "tasks": {"mutate-fix": 1}, "episodes_per_task": 1, "agent": "oracle"})
    killed: list[str] = []

    def on_tick(_: dict[str, object]) -> None:
        if killed:
            return
        for item in rows.items(camp.id, "build", ["running"]):
            job = jobs.get_job(item.job_id or "")
            if job is not None and job.state == JobState.RUNNING and job.worker and "cw1" in job.worker:
                time.sleep(3)  # mid-build
                started[0].kill9()
                killed.append(job.id)
                started.append(_worker(env, "cw2", tmp_path / "cw2.log"))
                return

    out = run(camp.name, limits_of(2), on_tick=on_tick)
    assert killed, "no build was running on the first worker"
    assert out["state"] == "done"
    assert (out["versions"], out["images_validated"], out["tasks"], out["episodes"], out["episodes_resolved"]) \
        == (3, 2, 2, 2, 2)
    assert rows.counts(camp.id) == {"build": {"done": 2, "failed": 1}, "tasks": {"done": 2}, "episode": {"done": 2}}
    job = jobs.get_job(killed[0])
    assert job is not None and job.state == JobState.SUCCEEDED and job.attempts == 2
    with db.session() as s:
        assert s.query(db.Image).filter(db.Image.status == "validated").count() == 2
        assert s.query(db.Task).count() == 2
        assert s.query(db.Trajectory).filter(db.Trajectory.resolved.is_(True)).count() == 2
    assert os.environ.get("FORAGER_EXECUTOR") == "celery"
