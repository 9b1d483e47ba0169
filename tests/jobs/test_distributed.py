"""Distributed mode on the real Redis and PostgreSQL of this machine: Celery workers as separate
processes, a worker killed in the middle of a job, retries, duplicate deliveries, and the API on
PostgreSQL. Each session uses its own PostgreSQL database and its own Redis key prefix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from needs import unavailable

from forager import jobs
from forager.config import reset_settings
from forager.store import db

pytestmark = pytest.mark.services
PG = "postgresql+psycopg://root@127.0.0.1:5432/{name}"
REDIS = "redis://127.0.0.1:6379/0"
FORAGER = str(Path(sys.executable).parent / "forager")


def _services_or_fail() -> None:
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_timeout=3).ping()
        psycopg.connect("host=127.0.0.1 user=root dbname=postgres", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis/PostgreSQL are not reachable: {exc}")


@dataclass
class Services:
    env: dict[str, str]  # FORAGER_* settings shared by the test process and its workers
    database_url: str
    prefix: str


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A fresh PostgreSQL database and Redis key prefix; both removed afterwards."""
    _services_or_fail()
    import psycopg
    import redis

    name = f"forager_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 user=root dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG.format(name=name)
    db.upgrade(url)  # once, before several processes connect
    prefix = f"forager-test-{uuid.uuid4().hex[:8]}:"
    env = {
        "FORAGER_DATABASE_URL": url,
        "FORAGER_EXECUTOR": "celery",
        "FORAGER_REDIS_URL": REDIS,
        "FORAGER_REDIS_KEY_PREFIX": prefix,
        # short limits keep the test short; as in production, visibility timeout > time limit
        "FORAGER_JOB_TIME_LIMIT_S": "6",
        "FORAGER_JOB_VISIBILITY_TIMEOUT_S": "8",
        "FORAGER_JOB_LEASE_S": "3",
        "FORAGER_JOB_RESTORE_INTERVAL_S": "1",
        "FORAGER_JOB_RETRY_BACKOFF_S": "0.5",
    }
    try:
        yield Services(env=env, database_url=url, prefix=prefix)
    finally:
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            r.delete(*keys)
        db.engine_for(url).dispose()
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def settings_env(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    for k, v in services.env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    return services


class Worker:
    def __init__(self, name: str, queues: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.proc = subprocess.Popen(
            [FORAGER, "worker", "--queues", queues, "--concurrency", "1", "--name", f"{name}@%h"],
            env={**os.environ, **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the pool child too
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker {self.name} not ready:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def workers(settings_env: Services, forager_home: Path, tmp_path: Path) -> Iterator[list[Worker]]:
    env = {**settings_env.env, "FORAGER_HOME": str(forager_home)}
    started = [Worker(n, "tasks", env, tmp_path / f"{n}.log") for n in ("w1", "w2")]
    try:
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.stop()


def wait_for(job_id: str, states: tuple[str, ...], timeout: float) -> db.Job:
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = jobs.get_job(job_id)
        if job is not None and job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(
        f"job {job_id} not in {states} after {timeout}s: {job and job.state} {job and job.result}"
    )


def test_killed_worker_job_finishes_on_the_other_exactly_once(workers: list[Worker]) -> None:
    job = jobs.submit("noop", {"duration": 4})
    running = wait_for(job.id, ("running",), 30)
    holder = next(w for w in workers if running.worker and running.worker.startswith(f"{w.name}@"))
    other = next(w for w in workers if w is not holder)
    time.sleep(1.0)  # well inside the job
    holder.kill9()
    done = wait_for(job.id, ("succeeded", "failed"), 60)
    assert done.state == "succeeded", done.error
    assert done.worker is not None and done.worker.startswith(f"{other.name}@")
    events = [(e["event"], e["worker"].split("@")[0]) for e in done.result["history"]]
    assert events == [("started", holder.name), ("taken over", other.name), ("succeeded", other.name)]
    assert done.attempts == 2 and done.result["attempt"] == 2
    # nothing is duplicated later: wait past another visibility timeout and restore cycle
    time.sleep(10)
    again = jobs.get_job(job.id)
    assert again is not None and again.state == "succeeded" and again.attempts == 2
    assert again.result["history"] == done.result["history"]
    assert b"Traceback" not in other.log.read_bytes()


def test_retries_duplicates_and_queues_across_workers(workers: list[Worker]) -> None:
    flaky = jobs.submit("noop", {"duration": 0, "fail_attempts": 1})
    many = [jobs.submit("noop", {"duration": 0.3, "i": i}) for i in range(6)]
    dup = jobs.submit("noop", {"duration": 0.5, "dup": True})
    for _ in range(3):  # the same job id delivered three more times
        jobs.dispatch(dup)
    for job in [flaky, *many, dup]:
        assert wait_for(job.id, ("succeeded", "failed"), 60).state == "succeeded"
    flaky_done = jobs.get_job(flaky.id)
    assert flaky_done is not None and flaky_done.attempts == 2
    assert [e["event"] for e in flaky_done.result["history"]] == ["started", "retry", "started", "succeeded"]
    time.sleep(2)
    dup_done = jobs.get_job(dup.id)
    assert dup_done is not None and dup_done.attempts == 1
    assert [e["event"] for e in dup_done.result["history"]] == ["started", "succeeded"]
    used = {jobs.get_job(j.id).worker.split("@")[0] for j in many}  # type: ignore[union-attr]
    assert used == {"w1", "w2"}  # both workers took work from the shared queue


def test_api_on_postgresql_queues_jobs_for_workers(workers: list[Worker]) -> None:
    from fastapi.testclient import TestClient

    from forager.api.app import create_app
    from forager.store import tokens
    from forager.trajectory.schema import Action, Reward, Trajectory, Turn

    traj = Trajectory(
        task_id="task-x",
        turns=[Turn(index=0, action=Action(tool="submit"))],
        reward=Reward(resolved=True),
        exit_reason="submitted",
    )

    token, _ = tokens.create("pg", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app()) as client:
        assert client.get("/healthz").json()["executor"] == "celery"
        r = client.post("/v1/jobs/noop", json={"duration": 0.2, "queue": "tasks"}, headers=headers)
        assert r.status_code == 202
        assert wait_for(r.json()["id"], ("succeeded",), 30).worker.split("@")[0] in ("w1", "w2")  # type: ignore[union-attr]
        up = client.post(
            "/v1/trajectories",
            content=traj.model_dump_json(),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert up.status_code == 201
        assert (
            client.get(f"/v1/trajectories/{up.json()['id']}", headers=headers).json()["task_id"] == "task-x"
        )
        stats = client.get("/v1/stats", headers=headers).json()
        assert stats["trajectories"]["total"] >= 1 and stats["jobs"]["by_state"].get("succeeded", 0) >= 1


def test_job_recorded_while_the_broker_was_down_runs_when_workers_start(
        settings_env: Services, forager_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    reset_settings()
    job = jobs.submit("noop", {"duration": 0, "lost": True})
    assert jobs.get_job(job.id).state == "queued"  # type: ignore[union-attr]
    monkeypatch.setenv("FORAGER_REDIS_URL", REDIS)
    reset_settings()
    worker = Worker("w3", "tasks", {**settings_env.env, "FORAGER_HOME": str(forager_home)}, tmp_path / "w3.log")
    try:
        worker.wait_ready()
        done = wait_for(job.id, ("succeeded", "failed"), 30)
        assert done.state == "succeeded" and done.attempts == 1 and done.worker.startswith("w3@")  # type: ignore[union-attr]
    finally:
        worker.stop()
