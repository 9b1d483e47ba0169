"""``/v1/runs``: agent episodes on tasks, one job of kind ``run`` per episode."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException

from forager.api.deps import Cursor, IdemKey, Limit, Read, SettingsDep, Write
from forager.api.routes.jobs import get_job
from forager.api.schemas import JobOut, Page, RunBatch, RunsIn
from forager.api.submit import submit
from forager.config import Settings
from forager.enums import JobKind
from forager.model.keys import is_trusted_model_url
from forager.store import db, tasks
from forager.store import jobs as stored_jobs

router = APIRouter(prefix="/v1/runs", tags=["runs"])

MAX_EPISODES = 1000
"""Most episodes one request may start."""
KeySource = Literal["server", "caller", "none"]
"""Whose key a run's model calls carry (recorded in the job's params as ``model_key``)."""


def model_key_source(body: RunsIn, settings: Settings) -> KeySource:
    """Whose key a run's model calls carry: ``server`` (FORAGER_MODEL_API_KEY, trusted endpoints
    only), ``caller`` (``model_api_key``, held in memory) or ``none``. Recorded in the job's params
    (the key itself never is); 422 for what this server cannot do safely."""
    if body.agent != "llm":
        return "none"
    if body.model_api_key is None:
        return "server" if is_trusted_model_url(body.model_url) else "none"
    if settings.executor != "embedded":
        raise HTTPException(422, "model_api_key needs the embedded executor: a caller's key is held only "
                                 "in the API process and never sent through the job queue; ask for the "
                                 "endpoint to be added to FORAGER_MODEL_ENDPOINTS instead")
    return "caller"


def _run_params(body: RunsIn, task_id: str, episode: int, key_source: KeySource) -> dict[str, Any]:
    return {"task_id": task_id, "episode": episode, "agent": body.agent, "model_url": body.model_url,
            "model_name": body.model_name, "max_steps": body.max_steps, "model_key": key_source}


@router.post("", response_model=RunBatch, status_code=202,
             description="Start `episodes` agent episodes on each task: one job of kind `run` per episode. "
                         "The server's model key is sent only to its trusted endpoints.")
def start_runs(body: RunsIn, token: Write, settings: SettingsDep, idempotency_key: IdemKey = None) -> RunBatch:
    if len(body.task_ids) * body.episodes > MAX_EPISODES:
        raise HTTPException(422, f"at most {MAX_EPISODES} episodes per request")
    missing = tasks.missing_ids(body.task_ids)
    if missing:
        raise HTTPException(404, f"no task(s): {', '.join(missing[:20])}")
    key_source = model_key_source(body, settings)
    caller_key = body.model_api_key.get_secret_value() if key_source == "caller" and body.model_api_key else None
    out: list[db.Job] = []
    for task_id in body.task_ids:
        for episode in range(body.episodes):
            params = _run_params(body, task_id, episode, key_source)
            out.append(submit(JobKind.RUN, params, token, idempotency_key, len(out), caller_key))
    return RunBatch(jobs=[JobOut.model_validate(j) for j in out])


@router.get("", response_model=Page[JobOut])
def list_runs(_: Read, limit: Limit = 50, cursor: Cursor = None, state: str | None = None) -> Page[JobOut]:
    rows, nxt = stored_jobs.list_jobs(limit, cursor, kind=JobKind.RUN, state=state)
    return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{job_id}", response_model=JobOut)
def run_status(job_id: str, _: Read) -> JobOut:
    return JobOut.model_validate(get_job(job_id, JobKind.RUN))
