"""``/v1/jobs``: every job's state, and the diagnostic ``noop`` job."""

from __future__ import annotations

from fastapi import APIRouter

from forager import jobs
from forager.api.deps import Admin, Cursor, IdemKey, Limit, Read
from forager.api.schemas import JobOut, NoopIn, Page
from forager.api.submit import submit
from forager.enums import JobKind
from forager.errors import NotFound
from forager.store import db
from forager.store import jobs as stored_jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def get_job(job_id: str, kind: JobKind | None = None) -> db.Job:
    """The job ``job_id`` (of ``kind``, when given); NotFound otherwise."""
    job = jobs.get_job(job_id)
    if job is None or (kind and job.kind != kind):
        raise NotFound(f"no {f'{kind} job' if kind else 'job'} {job_id!r}")
    return job


@router.get("", response_model=Page[JobOut])
def list_jobs(_: Read, limit: Limit = 50, cursor: Cursor = None, kind: str | None = None,
              state: str | None = None) -> Page[JobOut]:
    rows, nxt = stored_jobs.list_jobs(limit, cursor, kind=kind, state=state)
    return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{job_id}", response_model=JobOut)
def job_status(job_id: str, _: Read) -> JobOut:
    return JobOut.model_validate(get_job(job_id))


@router.post("/noop", response_model=JobOut, status_code=202,
             description="Diagnostic job that sleeps `duration` seconds on a queue (checks workers).")
def start_noop(body: NoopIn, token: Admin, idempotency_key: IdemKey = None) -> JobOut:
    job = submit(JobKind.NOOP, {"duration": body.duration, "queue": body.queue.value}, token, idempotency_key)
    return JobOut.model_validate(job)
