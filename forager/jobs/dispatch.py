"""Handing jobs to the configured executor: ``submit`` records a job and hands it over; the
re-queue sweeps hand over again the jobs no message will bring back (recorded while the broker was
down, or running under a lapsed lease); ``recover_on_start`` is what every process does first."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from forager.clock import utcnow
from forager.config import get_settings
from forager.enums import JobState
from forager.jobs.celery_app import TASK_NAME, celery_app
from forager.jobs.embedded import embedded
from forager.jobs.reaper import reap
from forager.jobs.state import JobPolicy, create, queue_of
from forager.store import db
from forager.store.job_rows import jobs_in

log = logging.getLogger("forager.jobs")


def dispatch(job: db.Job) -> None:
    """Hand a job to the executor (harmless for a job already handed over: it runs once)."""
    if get_settings().executor == "celery":
        celery_app().send_task(TASK_NAME, args=[job.id], task_id=job.id, queue=queue_of(job).value)
    else:
        embedded().submit(job.id, queue_of(job))


def submit(kind: str, params: dict[str, Any], job_id: str | None = None) -> db.Job:
    """Create (or find) a job and hand it to the configured executor. Re-submitting a job that is
    still queued hands it over again, which is harmless: ``execute`` runs it once. A job that
    cannot be handed over (the broker is down) stays recorded as queued: ``requeue_queued`` hands
    it over when a worker or the API starts, and workers look again every REQUEUE_INTERVAL_S."""
    job, _created = create(kind, params, job_id)
    if job.state == JobState.QUEUED:
        try:
            dispatch(job)
        except Exception as exc:  # noqa: BLE001 - recorded; handed over later
            if get_settings().executor != "celery":
                raise
            log.warning("job %s recorded but not handed to the broker (%s); it will be re-queued", job.id, exc)
    return job


def requeue_orphans() -> int:
    """Hand over again the running jobs whose lease lapsed and that no message will bring back (e.g.
    a job killed by the hard time limit). Harmless if a message for them is still on its way."""
    policy = JobPolicy.from_settings()
    running = jobs_in((JobState.RUNNING,))
    orphans = [j for j in running if policy.lease_remaining(j) == 0]
    for job in orphans:
        dispatch(job)
    return len(orphans)


def requeue_queued(min_age_s: float = 0.0) -> int:
    """Hand over again the queued jobs (older than ``min_age_s``, and not waiting for a retry's
    backoff): those recorded while the broker was down never reached it. A job whose message is
    still in the broker runs once anyway (``execute`` claims it by compare-and-set)."""
    cutoff = utcnow() - timedelta(seconds=min_age_s)
    queued = jobs_in((JobState.QUEUED,), created_before=cutoff)
    now = utcnow().isoformat()
    due = [j for j in queued if (j.result or {}).get("retry_at", "") <= now]
    for job in due:
        dispatch(job)
    return len(due)


def recover_on_start() -> dict[str, int]:
    """What the API and workers do when they start: reap what dead processes of this host left
    (``forager.jobs.reaper``), and hand over again the jobs no message will bring back (queued ones
    that never reached the broker, running ones whose lease lapsed). Each step is idempotent and
    safe while other processes run."""
    out = {"queued": 0, "orphans": 0, **reap()}
    try:
        if get_settings().executor == "embedded":
            out["queued"] = embedded().recover()
        else:
            out["queued"], out["orphans"] = requeue_queued(), requeue_orphans()
    except Exception:  # noqa: BLE001 - start-up goes on; the next start or sweep tries again
        log.exception("could not re-queue unfinished jobs")
    return out
