"""Long work as jobs: a request becomes a job (``forager.jobs``) whose id an ``Idempotency-Key``
fixes, so a retried request answers the same job instead of starting another."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from forager import jobs
from forager.enums import JobKind
from forager.model.keys import hold_model_key
from forager.store import db, tokens


def job_id_for(token: tokens.TokenInfo, key: str | None, index: int = 0) -> str:
    """The id of a request's ``index``-th job: fixed by the token and the Idempotency-Key, else new."""
    return jobs.idempotent_id(f"{token.id}\x00{key}", index) if key else db.new_id("job")


def submit(kind: JobKind, params: dict[str, Any], token: tokens.TokenInfo, key: str | None,
           index: int = 0, model_key: str | None = None) -> db.Job:
    """Record and queue a job; ``model_key`` (a caller's model key) is held in memory for it, never
    stored. 409 when the key was used for another request; 503 when the queue cannot take it (the
    job stays recorded as queued and is handed over later)."""
    job_id = job_id_for(token, key, index)
    if model_key:
        hold_model_key(job_id, model_key)  # before the job can start
    try:
        return jobs.submit(kind, params, job_id)
    except jobs.JobConflict as exc:
        raise HTTPException(409, f"Idempotency-Key reused with a different request: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. the broker is down; the job stays queued
        raise HTTPException(503, f"the job was recorded but could not be queued: {exc}") from exc
