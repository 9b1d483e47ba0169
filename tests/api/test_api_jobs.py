"""Jobs on the embedded executor: idempotent submission, retries with backoff, one execution per job."""

from __future__ import annotations

import time

import pytest
from api_client import (
    Api,
)

from forager import jobs
from forager.config import reset_settings


def wait_job(api: Api, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.client.get(f"/v1/jobs/{job_id}", headers=api.read).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_noop_job_runs_on_the_embedded_executor_and_is_idempotent(api: Api) -> None:
    headers = {**api.admin, "Idempotency-Key": "k1"}
    r = api.client.post("/v1/jobs/noop", json={"duration": 0.2}, headers=headers)
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "succeeded")
    job = wait_job(api, r.json()["id"])
    assert job["state"] == "succeeded" and job["result"]["slept"] == 0.2 and job["attempts"] == 1
    assert [e["event"] for e in job["result"]["history"]] == ["started", "succeeded"]
    again = api.client.post("/v1/jobs/noop", json={"duration": 0.2}, headers=headers)
    assert again.json()["id"] == job["id"] and again.json()["state"] == "succeeded"
    clash = api.client.post("/v1/jobs/noop", json={"duration": 0.3}, headers=headers)
    assert clash.status_code == 409
    assert api.client.post("/v1/jobs/noop", json={"duration": 0}, headers=api.write).status_code == 403


def test_transient_failures_are_retried_with_backoff(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_JOB_RETRY_BACKOFF_S", "0.2")
    reset_settings()
    job = jobs.submit("noop", {"duration": 0, "fail_attempts": 2})
    done = wait_job(api, job.id)
    assert done["state"] == "succeeded" and done["attempts"] == 3
    assert [e["event"] for e in done["result"]["history"]] == [
        "started",
        "retry",
        "started",
        "retry",
        "started",
        "succeeded",
    ]
    job = jobs.submit("noop", {"duration": 0, "fail_attempts": 9})
    failed = wait_job(api, job.id)
    assert failed["state"] == "failed" and failed["attempts"] == 3 and "transient" in failed["error"]


def test_a_job_is_executed_once_however_often_it_is_delivered(api: Api) -> None:
    job, created = jobs.create("noop", {"duration": 0.5})
    assert created
    for _ in range(4):  # four deliveries at once
        jobs.embedded().submit(job.id, "agent")
    done = wait_job(api, job.id)
    events = [e["event"] for e in done["result"]["history"]]
    time.sleep(1.0)  # let any late re-delivery happen
    final = api.client.get(f"/v1/jobs/{job.id}", headers=api.read).json()
    assert events == ["started", "succeeded"] and final["attempts"] == 1 and final == done
