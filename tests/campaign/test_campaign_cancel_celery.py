"""``campaign cancel`` under Celery ends running work on every worker's engine, not only the
cancelling machine's: each worker (its own process, its own owner identity ``host:pid``) sees at its
next lease renewal that its job's campaign was cancelled, removes that job's containers and records
the job failed, never retried. The cancelling side is made unable to remove anything, as a runner
on another machine would be."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from campaign_sources import FIXTURES
from test_campaign_celery import Worker, farm, services, settings_env  # noqa: F401 - fixtures

from forager import jobs
from forager.build.owners import BUILD_LABEL
from forager.campaign import cancel as cancel_mod
from forager.campaign.plan import create
from forager.campaign.runner import limits_of, run
from forager.jobs.calloff import CANCELLED
from forager.store import campaigns as rows

pytestmark = [pytest.mark.services, pytest.mark.docker]
SLOW_TEST = "import time\n\n\ndef test_slow():\n    time.sleep(20)\n    assert True\n"


def _slow_pkg(dest: Path, n: int) -> str:
    """minipkg with a 20 s test, so its validation container lives a while; ``n`` sets it apart."""
    shutil.copytree(FIXTURES / "minipkg", dest)
    (dest / "tests" / "test_slow.py").write_text(SLOW_TEST + f"\n# copy {n}\n")
    return str(dest)


def _wait(what: Any, timeout: float, why: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out: {why}")


def test_cancel_ends_running_builds_on_each_workers_engine(runtime: Any, farm: tuple[dict[str, str], list[Worker]],  # noqa: F811
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, started = farm
    for name in ("cw1", "cw2"):
        started.append(Worker(name, "build", env, tmp_path / f"{name}.log"))
    for w in started:
        w.wait_ready()
    camp = create("cancel-c", {"sources": [_slow_pkg(tmp_path / f"slow{n}", n) for n in (1, 2)],
                               "tasks": {"mutate-fix": 1}, "episodes_per_task": 1, "agent": "oracle"})
    # the runner here stands for a machine whose engine is not the workers': it removes nothing
    local: list[str] = []
    monkeypatch.setattr(cancel_mod, "_remove_containers", lambda item, worker: local.append(item.key) or 0)
    out: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: out.update(run(camp.name, limits_of(2))), daemon=True)
    runner.start()

    def both_building() -> dict[str, str] | None:
        held: dict[str, str] = {}  # job id -> worker name
        for item in rows.items(camp.id, "build", ["running"]):
            job = jobs.get_job(item.job_id or "")
            if job and job.state == "running" and job.worker and runtime.containers(
                    {BUILD_LABEL: jobs.build_id_for(job.id)}):
                held[job.id] = job.worker.split("@")[0]
        return held if sorted(held.values()) == ["cw1", "cw2"] else None

    held = _wait(both_building, 900, "a build container on each worker at once")
    t0 = time.monotonic()
    said = cancel_mod.cancel(camp.name)
    assert said["pending_cancelled"] == 0 and "running_ended_by" in said  # the runner ends its running work
    runner.join(300)
    assert not runner.is_alive() and out["state"] == "cancelled"
    # asked locally, where it removes nothing: every container that goes, its worker removed. A job
    # whose worker saw the cancel and ended it first is not asked (under load, CI saw one of two)
    assert set(local) <= {i.key for i in rows.items(camp.id, "build")}

    def containers_left() -> list[object]:
        return [c for j in held for c in runtime.containers({BUILD_LABEL: jobs.build_id_for(j)})]

    _wait(lambda: not containers_left(), 60, "the workers removed their build containers")
    gone_after = time.monotonic() - t0
    for job_id, worker in held.items():
        job = jobs.get_job(job_id)
        assert job is not None and job.state == "failed" and job.error == CANCELLED, (job and job.error)
        assert job.attempts == 1 and job.worker and job.worker.startswith(f"{worker}@")
    assert rows.counts(camp.id) == {"build": {"cancelled": 2}}
    assert gone_after < 60
    for w in started:
        assert b"called off (its campaign was cancelled)" in w.log.read_bytes(), w.log.read_text()[-2000:]
        assert w.proc.poll() is None  # the worker lives on
    time.sleep(8)  # past a lease: nothing was handed over again, nothing came back
    assert not containers_left()
    assert all(jobs.get_job(j).attempts == 1 for j in held)  # type: ignore[union-attr]
