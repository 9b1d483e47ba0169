"""The in-process executor (the default, ``FORAGER_EXECUTOR=embedded``): one thread pool per queue
inside the API or CLI process, no broker. It runs the same ``execute`` as Celery workers; a job
to retry later is handed to a timer."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from forager.config import get_settings
from forager.enums import JobState
from forager.jobs.attempt import execute
from forager.jobs.state import JobPolicy, Outcome, Verdict, queue_of, worker_name
from forager.store.job_rows import jobs_in

log = logging.getLogger("forager.jobs")


class Embedded:
    """Thread pools inside this process, one per queue (``concurrency``: threads per queue)."""

    def __init__(self, concurrency: dict[str, int], policy: JobPolicy | None = None) -> None:
        """``policy``: fixed retry and lease rules, or None to read them from the settings at each
        attempt (as the job rows' own workers do)."""
        self.pools = {q: ThreadPoolExecutor(n, thread_name_prefix=f"forager-{q}")
                      for q, n in concurrency.items()}
        self.policy = policy
        self.name = f"embedded@{worker_name()}"
        self.timers: list[threading.Timer] = []
        self.active: set[str] = set()
        """Jobs an attempt of this process is running: a late heartbeat (the lease lapsed under
        load) is not a dead worker, so this process never takes over its own running job."""
        self._lock = threading.Lock()

    def submit(self, job_id: str, queue: str) -> None:
        self.pools[queue].submit(self._run, job_id, queue)

    def _run(self, job_id: str, queue: str) -> None:
        policy = self.policy or JobPolicy.from_settings()
        with self._lock:
            if job_id in self.active:
                return
            self.active.add(job_id)
        try:
            outcome = execute(job_id, self.name, policy)
        except Exception:  # noqa: BLE001 - e.g. the database went away; try again shortly
            log.exception("job %s could not be executed", job_id)
            outcome = Outcome(Verdict.RETRY, retry_in=policy.backoff(1))
        finally:
            with self._lock:
                self.active.discard(job_id)
        if outcome.retry_in is not None:
            timer = threading.Timer(outcome.retry_in, self.submit, args=(job_id, queue))
            timer.daemon = True
            timer.start()
            self.timers = [t for t in self.timers if t.is_alive()] + [timer]

    def recover(self) -> int:
        """Hand over again every unfinished job (after a restart of the process)."""
        jobs = jobs_in((JobState.QUEUED, JobState.RUNNING))
        for job in jobs:
            self.submit(job.id, queue_of(job))
        return len(jobs)

    def shutdown(self) -> None:
        for t in self.timers:
            t.cancel()
        for pool in self.pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


_embedded: Embedded | None = None
_embedded_lock = threading.Lock()


def embedded() -> Embedded:
    """This process's executor, made on first use from the settings."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            s = get_settings()
            _embedded = Embedded(s.embedded_threads)
        return _embedded


def shutdown_embedded() -> None:
    global _embedded
    with _embedded_lock:
        if _embedded is not None:
            _embedded.shutdown()
            _embedded = None
