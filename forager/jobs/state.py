"""The job row's state machine: jobs are created, claimed, renewed and finished only by
conditional UPDATEs (compare-and-set on ``state`` and ``attempts``), so a job delivered twice never
runs twice at once and never records two results::

    queued --claim--> running --finish--> succeeded | failed
                      running --transient error--> queued (retried with backoff)
                      running --lease lapsed, claimed by another worker--> running (attempts+1)

A running attempt renews a lease (``result.heartbeat``) every third of ``job_lease_s``; a lapsed
lease means the worker that held the job is gone. ``result.history`` keeps one line per event.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from forager.clock import utcnow
from forager.config import Settings, get_settings
from forager.enums import JobKind, JobState, Queue
from forager.errors import ForagerError, InvalidInput
from forager.owner import this_process
from forager.store import db
from forager.store.job_rows import cas, get_job, insert_job  # cas, get_job: the executors' names for them

log = logging.getLogger("forager.jobs")

QUEUES = tuple(Queue)
KIND_QUEUE = {JobKind.BUILD: Queue.BUILD, JobKind.TASKS: Queue.TASKS, JobKind.RUN: Queue.AGENT,
              JobKind.NOOP: Queue.TASKS, JobKind.TRACES: Queue.TASKS}
FINAL = (JobState.SUCCEEDED, JobState.FAILED)
BACKOFF_MAX_S = 600.0


class JobFailed(ForagerError):
    """The job ran to an end but did not do its work (e.g. a build that failed): the job is
    ``failed`` with this message, and ``result`` is still recorded."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class JobConflict(ForagerError):
    """A job id is already used by a job of another kind or with other parameters."""


class Verdict(StrEnum):
    """What one call of ``execute`` did with a job."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"  # a transient error: queued again, to run after a backoff
    BUSY = "busy"  # another worker holds a fresh lease
    DONE = "done"  # already finished
    MISSING = "missing"  # no such job
    LOST = "lost"  # this attempt lost the job to another worker; its result is dropped


@dataclass
class Outcome:
    status: Verdict
    retry_in: float | None = None


@dataclass
class JobContext:
    job_id: str
    attempt: int
    worker: str


@dataclass(frozen=True)
class JobPolicy:
    """How long a lease lasts, how often a job is tried, how long a retry waits."""

    lease_s: float
    max_attempts: int
    retry_backoff_s: float

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> JobPolicy:
        s = s or get_settings()
        return cls(lease_s=s.job_lease_s, max_attempts=s.job_max_attempts, retry_backoff_s=s.job_retry_backoff_s)

    def backoff(self, attempt: int) -> float:
        """Delay before retry ``attempt``: doubles per attempt, capped at 10 minutes."""
        return min(self.retry_backoff_s * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S)

    def lease_remaining(self, job: db.Job) -> float:
        """Seconds left on the lease of a running job (0: lapsed or never taken)."""
        beat = (job.result or {}).get("heartbeat")
        if not beat:
            return 0.0
        age = (utcnow() - datetime.fromisoformat(beat)).total_seconds()
        return max(self.lease_s - age, 0.0)


def worker_name() -> str:
    """This process as a worker: ``host:pid`` (the owner of the jobs it runs)."""
    return this_process()


def now_iso() -> str:
    return utcnow().isoformat()


def event(attempt: int, worker: str, what: str, detail: str = "") -> dict[str, Any]:
    """One line of ``result.history``."""
    e: dict[str, Any] = {"at": now_iso(), "attempt": attempt, "worker": worker, "event": what}
    if detail:
        e["detail"] = detail[:500]
    return e


def queue_of(job: db.Job) -> Queue:
    """The queue a job runs on: its kind's, or for a diagnostic job the queue it names."""
    named = (job.params or {}).get("queue") if job.kind == JobKind.NOOP else None
    return Queue(named) if named in QUEUES else KIND_QUEUE[JobKind(job.kind)]


def idempotent_id(key: str, index: int = 0) -> str:
    """A job id derived from a client's idempotency key (and the item's index in a batch)."""
    return "job-" + hashlib.sha256(f"{key}\x00{index}".encode()).hexdigest()[:24]


def create(kind: str, params: dict[str, Any], job_id: str | None = None) -> tuple[db.Job, bool]:
    """Record a job (queued); returns (job, created). An existing id returns that job unchanged."""
    if kind not in list(JobKind):
        raise InvalidInput(f"unknown job kind {kind!r}")
    job_id = job_id or db.new_id("job")
    existing = get_job(job_id)
    if existing is None:
        try:
            return insert_job(job_id, JobKind(kind).value, params, JobState.QUEUED.value), True
        except IntegrityError:
            existing = get_job(job_id)
            if existing is None:
                raise
    if existing.kind != kind or existing.params != params:
        raise JobConflict(f"job id {job_id} is already used by another job")
    return existing, False


class Heartbeat:
    """Renews the lease of one attempt until stopped; notices when the attempt lost the job, and
    (with ``called_off``) when the job was called off from outside: then ``on_called_off`` runs,
    at that renewal and every later one."""

    def __init__(self, job_id: str, attempt: int, running: dict[str, Any], lease_s: float,
                 called_off: Callable[[], bool] | None = None,
                 on_called_off: Callable[[], object] | None = None) -> None:
        self.job_id, self.attempt, self.running = job_id, attempt, running
        self.period = max(lease_s / 3, 0.2)
        self.stop = threading.Event()
        self.lost = False
        self.called_off = False
        self._check, self._on_called_off = called_off, on_called_off
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"lease-{job_id}")

    def _loop(self) -> None:
        while not self.stop.wait(self.period):
            self.running["heartbeat"] = now_iso()
            try:
                if not cas(self.job_id, JobState.RUNNING, self.attempt, result=dict(self.running)):
                    self.lost = True
                    return
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried next period
                log.warning("lease renewal of %s failed: %s", self.job_id, exc)
            self._look_outside()

    def _look_outside(self) -> None:
        if self._check is None:
            return
        try:
            self.called_off = self.called_off or self._check()
            if self.called_off and self._on_called_off is not None:
                self._on_called_off()
        except Exception as exc:  # noqa: BLE001 - looked at again next period
            log.warning("could not tell whether %s was called off: %s", self.job_id, exc)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
