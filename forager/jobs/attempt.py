"""One attempt at a job: claim it (or leave it to the worker whose lease is fresh), run its
handler under a renewed lease, and record the end: succeeded, failed, or queued again after a
transient error. Both executors call ``execute``; it is safe to call any number of times for the
same job, from any number of workers."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from forager.clock import utcnow
from forager.enums import JobState
from forager.episode.budget import release_thread
from forager.errors import InvalidInput, is_transient
from forager.jobs.handlers import JOB_KINDS, jsonable
from forager.jobs.state import (
    FINAL,
    Heartbeat,
    JobContext,
    JobFailed,
    JobPolicy,
    Outcome,
    Verdict,
    cas,
    event,
    get_job,
    now_iso,
)
from forager.store import db

log = logging.getLogger("forager.jobs")

CLAIM_TRIES = 10
"""Compare-and-set races lost in a row before ``execute`` answers ``busy``."""


def _give_up(job: db.Job, worker: str, history: list[dict[str, Any]]) -> bool:
    """Fail a job out of attempts; True when this worker recorded it."""
    msg = f"gave up after {job.attempts} attempts: {job.error or 'the worker running it was lost'}"
    history.append(event(job.attempts, worker, JobState.FAILED, msg))
    return cas(job.id, job.state, job.attempts, state=JobState.FAILED, error=msg, finished_at=utcnow(),
               result={"history": history})


def _claim(job_id: str, worker: str, policy: JobPolicy) -> tuple[db.Job, dict[str, Any]] | Outcome:
    """Take the job for a new attempt: (the job as it was, the running result) or why not."""
    for _ in range(CLAIM_TRIES):  # lose a compare-and-set race: look again
        job = get_job(job_id)
        if job is None:
            return Outcome(Verdict.MISSING)
        if job.state in FINAL:
            return Outcome(Verdict.DONE)
        history = list((job.result or {}).get("history", []))
        taking_over = job.state == JobState.RUNNING
        if taking_over and (remaining := policy.lease_remaining(job)) > 0:
            return Outcome(Verdict.BUSY, retry_in=remaining + 0.5)
        if job.attempts >= policy.max_attempts:
            if _give_up(job, worker, history):
                return Outcome(Verdict.FAILED)
            continue
        attempt = job.attempts + 1
        history.append(event(attempt, worker, "taken over" if taking_over else "started",
                             f"from {job.worker}" if taking_over else ""))
        running = {"heartbeat": now_iso(), "history": history}
        if cas(job.id, job.state, job.attempts, state=JobState.RUNNING, attempts=attempt, worker=worker,
               started_at=utcnow(), result=running):
            return job, running
    return Outcome(Verdict.BUSY, retry_in=1.0)


def _run(job: db.Job, ctx: JobContext) -> tuple[dict[str, Any], str | None, bool]:
    """Run the job's handler: (result, error or None, whether the error is transient)."""
    handler = JOB_KINDS.get(job.kind)
    try:
        if handler is None:
            raise InvalidInput(f"unknown job kind {job.kind!r}")
        return handler(dict(job.params or {}), ctx) or {}, None, False
    except JobFailed as exc:
        return exc.result, str(exc), False
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
        error = f"{type(exc).__name__}: {exc}"
        log.warning("job %s attempt %d: %s", ctx.job_id, ctx.attempt, error)
        return {}, error, is_transient(exc)


def _requeue(ctx: JobContext, error: str, history: list[dict[str, Any]], policy: JobPolicy) -> Outcome:
    delay = policy.backoff(ctx.attempt)
    history.append(event(ctx.attempt, ctx.worker, "retry", f"in {delay:.0f}s: {error}"))
    retry_at = (utcnow() + timedelta(seconds=delay)).isoformat()
    if cas(ctx.job_id, JobState.RUNNING, ctx.attempt, state=JobState.QUEUED, error=error,
           result={"history": history, "retry_at": retry_at}):
        return Outcome(Verdict.RETRY, retry_in=delay)
    return Outcome(Verdict.LOST)


def _finish(ctx: JobContext, result: dict[str, Any], error: str | None, history: list[dict[str, Any]]) -> Outcome:
    state = JobState.FAILED if error else JobState.SUCCEEDED
    history.append(event(ctx.attempt, ctx.worker, state, error or ""))
    final = {**jsonable(result), "history": history}
    if cas(ctx.job_id, JobState.RUNNING, ctx.attempt, state=state, error=error, result=final,
           finished_at=utcnow()):
        return Outcome(Verdict(state.value))
    return Outcome(Verdict.LOST)


def execute(job_id: str, worker: str, policy: JobPolicy | None = None) -> Outcome:
    """Run one attempt of a job if it is this worker's to run."""
    policy = policy or JobPolicy.from_settings()
    claimed = _claim(job_id, worker, policy)
    if isinstance(claimed, Outcome):
        return claimed
    job, running = claimed
    ctx = JobContext(job_id=job_id, attempt=job.attempts + 1, worker=worker)
    from forager.jobs.calloff import CANCELLED, called_off, end_here  # it reaches the engine and campaigns

    thread = threading.get_ident()
    with Heartbeat(job_id, ctx.attempt, running, policy.lease_s, called_off=lambda: called_off(job_id),
                   on_called_off=lambda: end_here(job, thread)) as beat:
        try:
            result, error, transient = ({}, CANCELLED, False) if called_off(job_id) else _run(job, ctx)
        finally:
            release_thread(thread)
    if beat.lost:
        log.warning("job %s attempt %d lost its lease; its result is dropped", job_id, ctx.attempt)
        return Outcome(Verdict.LOST)
    if beat.called_off:  # whatever the work ended with, it ended because it was called off: no retry
        error, transient = CANCELLED, False
    history: list[dict[str, Any]] = running["history"]
    if error and transient and ctx.attempt < policy.max_attempts:
        return _requeue(ctx, error, history, policy)
    return _finish(ctx, result, error, history)
