"""The job state machine on the local registry: created once per id, claimed by compare-and-set,
retried after transient errors, given up after the last attempt, left alone under a fresh lease."""

from __future__ import annotations

import pytest

from forager import jobs
from forager.config import reset_settings
from forager.enums import JobState
from forager.errors import InvalidInput
from forager.jobs.state import cas


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_JOB_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("FORAGER_JOB_RETRY_BACKOFF_S", "0")
    reset_settings()


def test_create_is_idempotent_per_id_and_refuses_conflicts() -> None:
    job_id = jobs.idempotent_id("key")
    assert job_id == jobs.idempotent_id("key") != jobs.idempotent_id("key", 1)
    first, created = jobs.create("noop", {"duration": 0}, job_id)
    again, created_again = jobs.create("noop", {"duration": 0}, job_id)
    assert created and not created_again and again.id == first.id and first.state == JobState.QUEUED
    with pytest.raises(jobs.JobConflict):
        jobs.create("noop", {"duration": 1}, job_id)
    with pytest.raises(InvalidInput):
        jobs.create("mine-bitcoin", {})


def test_a_job_runs_once_and_records_its_history() -> None:
    job, _ = jobs.create("noop", {"duration": 0})
    assert jobs.execute(job.id, "w1").status == "succeeded"
    assert jobs.execute(job.id, "w2").status == "done"  # a second delivery changes nothing
    done = jobs.get_job(job.id)
    assert done is not None and done.attempts == 1 and done.worker == "w1"
    assert [e["event"] for e in done.result["history"]] == ["started", "succeeded"]
    assert jobs.execute("job-missing", "w1").status == "missing"


def test_transient_errors_retry_then_give_up(quick_retries: None) -> None:
    job, _ = jobs.create("noop", {"duration": 0, "fail_attempts": 5})
    first = jobs.execute(job.id, "w1")
    assert first.status == "retry" and first.retry_in == 0
    queued = jobs.get_job(job.id)
    assert queued is not None and queued.state == "queued" and "retry_at" in queued.result
    assert jobs.execute(job.id, "w1").status == "failed"  # the last attempt's error is permanent
    done = jobs.get_job(job.id)
    assert done is not None and done.attempts == 2 and "diagnostic transient failure" in (done.error or "")
    assert [e["event"] for e in done.result["history"]] == ["started", "retry", "started", "failed"]


def test_a_fresh_lease_is_left_alone_and_a_stale_attempt_is_lost() -> None:
    job, _ = jobs.create("noop", {"duration": 0})
    running = {"heartbeat": jobs.state.now_iso(), "history": []}
    assert cas(job.id, JobState.QUEUED, 0, state=JobState.RUNNING, attempts=1, worker="gone", result=running)
    busy = jobs.execute(job.id, "w2")
    assert busy.status == "busy" and busy.retry_in is not None and busy.retry_in > 1
    assert not cas(job.id, JobState.QUEUED, 0, state=JobState.FAILED)  # the holder moved it: no match
    policy = jobs.JobPolicy(lease_s=0.0, max_attempts=3, retry_backoff_s=0.0)  # every lease lapsed
    assert jobs.execute(job.id, "w2", policy).status == "succeeded"
    done = jobs.get_job(job.id)
    assert done is not None and done.attempts == 2
    assert [e["event"] for e in done.result["history"]] == ["taken over", "succeeded"]


def test_queues_and_backoff() -> None:
    job, _ = jobs.create("run", {"task_id": "t"})
    assert jobs.queue_of(job) == "agent"
    noop, _ = jobs.create("noop", {"queue": "build"})
    assert jobs.queue_of(noop) == "build"
    policy = jobs.JobPolicy(lease_s=60, max_attempts=3, retry_backoff_s=10)
    assert [policy.backoff(a) for a in (1, 2, 3, 10)] == [10, 20, 40, 600]


def test_the_embedded_executor_never_takes_over_its_own_running_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load a heartbeat can be late past the lease; the process that runs the job is alive,
    so handing the job to it again (the campaign runner does so for lapsed leases) must not start a
    second attempt beside the first (seen: an embedded job 'taken over' from itself)."""
    import time

    from forager.jobs.embedded import Embedded

    monkeypatch.setattr(jobs.state.Heartbeat, "_loop", lambda self: None)  # every beat is late
    policy = jobs.JobPolicy(lease_s=0.2, max_attempts=3, retry_backoff_s=0.0)
    ex = Embedded({"default": 2}, policy)
    job, _ = jobs.create("noop", {"duration": 1.5})
    try:
        ex.submit(job.id, "default")
        time.sleep(0.8)  # the lease has lapsed; the first attempt still runs
        ex.submit(job.id, "default")
        deadline = time.monotonic() + 20
        while (done := jobs.get_job(job.id)) is not None and done.state not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        ex.shutdown()
    assert done is not None and done.state == "succeeded" and done.attempts == 1, done.result
    assert [e["event"] for e in done.result["history"]] == ["started", "succeeded"]
