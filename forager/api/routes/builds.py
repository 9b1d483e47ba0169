"""``/v1/builds``: start a build (a job), list builds, a build's status and log lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forager import jobs
from forager.api.deps import Cursor, IdemKey, Limit, Read, Write
from forager.api.schemas import BuildIn, BuildLogOut, BuildLogs, BuildOut, BuildStatus, JobOut, Page
from forager.api.sources import check_source
from forager.api.submit import submit
from forager.enums import JobKind
from forager.errors import NotFound
from forager.store import builds, db

router = APIRouter(prefix="/v1/builds", tags=["builds"])


@router.post("", response_model=JobOut, status_code=202)
def start_build(body: BuildIn, token: Write, idempotency_key: IdemKey = None) -> JobOut:
    _, _, source = check_source(body.source, token)
    job = submit(JobKind.BUILD, {"source": source, "commit": body.commit, "python": body.python}, token,
                 idempotency_key)
    return JobOut.model_validate(job)


@router.get("", response_model=Page[BuildOut])
def list_builds(_: Read, limit: Limit = 50, cursor: Cursor = None, status: str | None = None,
                repository_id: str | None = None) -> Page[BuildOut]:
    rows, nxt = builds.list_builds(limit, cursor, status=status, repository_id=repository_id)
    return Page(items=[BuildOut.model_validate(r) for r in rows], next_cursor=nxt)


def find_build(build_or_job_id: str) -> tuple[db.Job | None, db.Build | None]:
    """``(None, build)`` for a build id; ``(job, its build or None)`` for the id of a build job
    (the build's id is fixed by the job's); NotFound for anything else."""
    build = builds.find(build_or_job_id)
    if build is not None:
        return None, build
    job = jobs.get_job(build_or_job_id)
    if job is None or job.kind != JobKind.BUILD:
        raise NotFound(f"no build or build job {build_or_job_id!r}")
    return job, builds.find((job.result or {}).get("build_id") or jobs.build_id_for(job.id))


@router.get("/{build_id}", response_model=BuildStatus,
            description="By build id, or by the id of the job that `POST /v1/builds` answered.")
def build_status(build_id: str, _: Read) -> BuildStatus:
    job, build = find_build(build_id)
    return BuildStatus(id=build_id, job=JobOut.model_validate(job) if job else None,
                       build=BuildOut.model_validate(build) if build else None)


@router.get("/{build_id}/logs", response_model=BuildLogs)
def build_logs(build_id: str, _: Read, after: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> BuildLogs:
    _job, build = find_build(build_id)
    if build is None:
        return BuildLogs(build_id=None, items=[], next_after=after)
    rows = builds.log_lines(build.id, after, limit)
    items = [BuildLogOut.model_validate(r) for r in rows]
    return BuildLogs(build_id=build.id, items=items, next_after=items[-1].id if items else after)
