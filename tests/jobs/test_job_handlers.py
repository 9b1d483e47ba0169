"""Job handlers: a build job whose build failed ends as a failed job with the build's result."""

from __future__ import annotations

from forager import jobs
from forager.store import db


def test_build_job_whose_build_failed_ends_failed() -> None:
    job, _ = jobs.create("build", {"source": "/definitely/not/here"})
    assert jobs.execute(job.id, "test").status == "failed"
    done = jobs.get_job(job.id)
    assert done is not None and done.state == "failed"
    assert done.error is not None and done.error.startswith("build failed: not a git URL")
    assert done.result["status"] == "failed" and done.result["build_id"] == jobs.build_id_for(job.id)
    with db.session() as s:
        row = s.get(db.Build, jobs.build_id_for(job.id))
        assert row is not None and row.status == "failed" and "not a git URL" in (row.error or "")
