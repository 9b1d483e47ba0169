"""Long work as jobs: the job functions, the job state machine, and the two executors that run them.

A job is a ``db.Job`` row. Its state moves only by conditional UPDATEs (compare-and-set on
``state`` and ``attempts``), so a job delivered twice never runs twice at once and never records
two results::

    queued --claim--> running --finish--> succeeded | failed
                      running --transient error--> queued (retried with backoff)
                      running --lease lapsed, claimed by another worker--> running (attempts+1)

A running attempt renews a lease (``result.heartbeat``) every third of ``job_lease_s``. A worker
given a job whose lease is still fresh leaves it alone (and looks again when the lease would
lapse); a lapsed lease means the worker that held it is gone, and the job is taken over. Only the
attempt that holds the job can finish it: a late finish of a stale attempt changes nothing.
``result.history`` keeps one line per event (started, taken over, retry, succeeded, failed).

Executors: ``embedded`` (the default: threads in the API process, one pool per queue, no Redis)
and ``celery`` (Redis broker, queues ``build``, ``tasks``, ``agent``; acks late, re-queue on
worker loss, prefetch 1, visibility timeout above the hard time limit). Both call ``execute``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from forager.clock import utcnow
from forager.config import get_settings
from forager.errors import ForagerError, TransientError, is_transient
from forager.store import db

log = logging.getLogger("forager.jobs")

QUEUES = ("build", "tasks", "agent")
KIND_QUEUE = {"build": "build", "tasks": "tasks", "run": "agent", "noop": "tasks"}
FINAL = ("succeeded", "failed")


class JobFailed(ForagerError):
    """The job ran to an end but did not do its work (e.g. a build that failed): the job is
    ``failed`` with this message, and ``result`` is still recorded."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class JobConflict(ForagerError):
    """A job id is already used by a job of another kind or with other parameters."""


@dataclass
class JobContext:
    job_id: str
    attempt: int
    worker: str


@dataclass
class Outcome:
    status: str  # succeeded | failed | retry | busy | done | missing | lost
    retry_in: float | None = None


# ----------------------------------------------------------------------------- job functions
def _jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "summary") and callable(obj.summary):
        return _jsonable(obj.summary())
    if hasattr(obj, "model_dump"):
        return _jsonable(obj.model_dump(mode="json"))
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if hasattr(obj, "id"):
        return {"id": str(obj.id)}
    return str(obj)


def _runtime():  # type: ignore[no-untyped-def]
    from forager.runtime.docker import EngineError, get_runtime

    try:
        return get_runtime()
    except EngineError as exc:
        raise TransientError(str(exc)) from exc


def registry_tag(tag: str) -> str:
    return f"{get_settings().registry.rstrip('/')}/{tag}"


def publish_image(tag: str) -> str | None:
    """Push a built image to the configured registry (if any); returns the pushed name."""
    if not get_settings().registry or not tag:
        return None
    rt = _runtime()
    remote = registry_tag(tag)
    rt.tag(tag, remote)
    repo, _, version = remote.rpartition(":")
    for line in rt.client.images.push(repo, tag=version, stream=True, decode=True):
        if isinstance(line, dict) and line.get("error"):
            raise TransientError(f"push of {remote} failed: {line['error']}")
    return remote


def ensure_image(tag: str) -> str:
    """Make a built image present on this worker's engine: already there; else pulled from the
    registry when one is configured; else rebuilt from the recipe recorded with the image."""
    rt = _runtime()
    if rt.image_exists(tag):
        return "present"
    if get_settings().registry:
        remote = registry_tag(tag)
        repo, _, version = remote.rpartition(":")
        try:
            rt.client.images.pull(repo, tag=version)
            rt.tag(remote, tag)
            return "pulled"
        except Exception as exc:  # noqa: BLE001 - fall back to a rebuild
            log.warning("pull of %s failed (%s); rebuilding from the recipe", remote, exc)
    with db.session() as s:
        image = s.get(db.Image, tag)
        if image is None:
            raise ValueError(f"no image {tag!r} in the registry database")
        source, commit, python = image.source, image.commit, image.python
    from forager.build import builder

    result = builder.build(source, commit=commit, python=python)
    if getattr(result, "status", None) != "validated":
        raise RuntimeError(f"rebuilding {tag} failed: {getattr(result, 'error', result)}")
    if result.image != tag:
        rt.tag(result.image, tag)
    return "rebuilt"


def build_id_for(job_id: str) -> str:
    """The build row a build job writes: fixed by the job id, so a redelivered job reuses it."""
    return f"build-{job_id.removeprefix('job-')}"


def job_build(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from forager.build.builder import build

    result = build(params["source"], commit=params.get("commit"), python=params.get("python"),
                   build_id=build_id_for(ctx.job_id))
    out = _jsonable(result)
    if result.status != "validated":  # the build row keeps its own status and reason
        raise JobFailed(f"build {result.status}: {result.error}", out)
    if result.image:
        out["pushed"] = publish_image(result.image)
    return out


def job_tasks(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from forager.tasks.generate import generate

    image = params["image"]
    image_source = ensure_image(image)
    result = generate(image, params.get("kind", "mutate-fix"), int(params.get("max_tasks", 5)),
                      max_candidates=params.get("max_candidates"), seed=int(params.get("seed", 0)))
    out = _jsonable(result.summary())
    out["task_ids"] = [t["id"] for t in result.tasks]
    out["image_source"] = image_source
    return out


def job_run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from forager.episode.agent import run_episode

    with db.session() as s:
        task = s.get(db.Task, params["task_id"])
        if task is None:
            raise ValueError(f"no task {params['task_id']!r}")
        image = task.image_id
    image_source = ensure_image(image)
    api_key = None
    if params.get("model_key") == "caller":
        from forager.model.keys import held_model_key

        api_key = held_model_key(ctx.job_id)
        if api_key is None:
            raise ValueError("the caller's model key is no longer held (the API restarted): start the run again")
    traj = run_episode(params["task_id"], agent=params.get("agent", "llm"), model_url=params.get("model_url"),
                       model_name=params.get("model_name"), max_steps=params.get("max_steps"), api_key=api_key)
    out: dict[str, Any] = {"image_source": image_source}
    if isinstance(traj, str):
        out["trajectory_id"] = traj
    else:
        out["trajectory_id"] = getattr(traj, "id", None)
        out["resolved"] = getattr(traj, "resolved", None)
        out["exit_reason"] = getattr(traj, "exit_reason", None)
    return out


def job_noop(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Diagnostic job: sleeps ``duration`` seconds (at most 600). ``fail_attempts: N`` makes its
    first N attempts fail with a transient error (to see retries with backoff). Used by health
    checks and the tests of the distributed mode."""
    duration = min(max(float(params.get("duration", 0)), 0.0), 600.0)
    if ctx.attempt <= int(params.get("fail_attempts", 0)):
        raise TransientError(f"diagnostic transient failure on attempt {ctx.attempt}")
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(min(0.05, max(end - time.monotonic(), 0)))
    return {"slept": duration, "attempt": ctx.attempt, "worker": ctx.worker}


JOB_KINDS: dict[str, Callable[[dict[str, Any], JobContext], dict[str, Any]]] = {
    "build": job_build,
    "tasks": job_tasks,
    "run": job_run,
    "noop": job_noop,
}


# ----------------------------------------------------------------------------- state machine
def _now_iso() -> str:
    return utcnow().isoformat()


def _event(attempt: int, worker: str, event: str, detail: str = "") -> dict[str, Any]:
    e = {"at": _now_iso(), "attempt": attempt, "worker": worker, "event": event}
    if detail:
        e["detail"] = detail[:500]
    return e


def _cas(job_id: str, state: str, attempts: int, /, **values: Any) -> bool:
    """Set ``values`` only if the job is still in ``state`` at ``attempts``; True when it was."""
    with db.session() as s:
        res = s.execute(
            update(db.Job)
            .where(db.Job.id == job_id, db.Job.state == state, db.Job.attempts == attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return res.rowcount == 1  # type: ignore[attr-defined]


def get_job(job_id: str) -> db.Job | None:
    with db.session() as s:
        return s.get(db.Job, job_id)


def lease_remaining(job: db.Job) -> float:
    beat = (job.result or {}).get("heartbeat")
    if not beat:
        return 0.0
    age = (utcnow() - datetime.fromisoformat(beat)).total_seconds()
    return max(get_settings().job_lease_s - age, 0.0)


def backoff(attempt: int) -> float:
    return min(get_settings().job_retry_backoff_s * 2 ** max(attempt - 1, 0), 600.0)


class _Heartbeat:
    """Renews the lease of one attempt until stopped; notices when the attempt lost the job."""

    def __init__(self, job_id: str, attempt: int, running: dict[str, Any]) -> None:
        self.job_id, self.attempt, self.running = job_id, attempt, running
        self.stop = threading.Event()
        self.lost = False
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"lease-{job_id}")

    def _loop(self) -> None:
        period = max(get_settings().job_lease_s / 3, 0.2)
        while not self.stop.wait(period):
            self.running["heartbeat"] = _now_iso()
            try:
                if not _cas(self.job_id, "running", self.attempt, result=dict(self.running)):
                    self.lost = True
                    return
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried next period
                log.warning("lease renewal of %s failed: %s", self.job_id, exc)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def execute(job_id: str, worker: str) -> Outcome:
    """Run one attempt of a job if it is this worker's to run. Safe to call any number of times
    for the same job, from any number of workers."""
    settings = get_settings()
    for _ in range(10):  # lose a compare-and-set race: look again
        job = get_job(job_id)
        if job is None:
            return Outcome("missing")
        if job.state in FINAL:
            return Outcome("done")
        history = list((job.result or {}).get("history", []))
        if job.state == "running":
            remaining = lease_remaining(job)
            if remaining > 0:
                return Outcome("busy", retry_in=remaining + 0.5)
        if job.attempts >= settings.job_max_attempts:
            error = job.error or "the worker running it was lost"
            msg = f"gave up after {job.attempts} attempts: {error}"
            history.append(_event(job.attempts, worker, "failed", msg))
            if _cas(job.id, job.state, job.attempts, state="failed", error=msg, finished_at=utcnow(),
                    result={"history": history}):
                return Outcome("failed")
            continue
        attempt = job.attempts + 1
        history.append(_event(attempt, worker, "taken over" if job.state == "running" else "started",
                              f"from {job.worker}" if job.state == "running" else ""))
        running = {"heartbeat": _now_iso(), "history": history}
        if _cas(job.id, job.state, job.attempts, state="running", attempts=attempt, worker=worker,
                started_at=utcnow(), result=running):
            break
    else:
        return Outcome("busy", retry_in=1.0)

    ctx = JobContext(job_id=job_id, attempt=attempt, worker=worker)
    fn = JOB_KINDS.get(job.kind)
    error: str | None = None
    result: dict[str, Any] = {}
    transient = False
    with _Heartbeat(job_id, attempt, running) as beat:
        try:
            if fn is None:
                raise ValueError(f"unknown job kind {job.kind!r}")
            result = fn(dict(job.params or {}), ctx) or {}
        except JobFailed as exc:
            error, result = str(exc), exc.result
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            error = f"{type(exc).__name__}: {exc}"
            transient = is_transient(exc)
            log.warning("job %s attempt %d: %s", job_id, attempt, error)
    if beat.lost:
        log.warning("job %s attempt %d lost its lease; its result is dropped", job_id, attempt)
        return Outcome("lost")
    if error and transient and attempt < settings.job_max_attempts:
        delay = backoff(attempt)
        history.append(_event(attempt, worker, "retry", f"in {delay:.0f}s: {error}"))
        retry_at = (utcnow() + timedelta(seconds=delay)).isoformat()
        if _cas(job_id, "running", attempt, state="queued", error=error,
                result={"history": history, "retry_at": retry_at}):
            return Outcome("retry", retry_in=delay)
        return Outcome("lost")
    state = "failed" if error else "succeeded"
    history.append(_event(attempt, worker, state, error or ""))
    final = {**_jsonable(result), "history": history}
    if _cas(job_id, "running", attempt, state=state, error=error, result=final, finished_at=utcnow()):
        return Outcome(state)
    return Outcome("lost")


# ----------------------------------------------------------------------------- submitting
def idempotent_id(key: str, index: int = 0) -> str:
    """A job id derived from a client's idempotency key (and the item's index in a batch)."""
    return "job-" + hashlib.sha256(f"{key}\x00{index}".encode()).hexdigest()[:24]


def create(kind: str, params: dict[str, Any], job_id: str | None = None) -> tuple[db.Job, bool]:
    """Record a job (queued); returns (job, created). An existing id returns that job unchanged."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job_id = job_id or db.new_id("job")
    existing = get_job(job_id)
    if existing is None:
        try:
            with db.session() as s:
                s.add(db.Job(id=job_id, kind=kind, params=params, state="queued", result={}))
            return get_job(job_id), True  # type: ignore[return-value]
        except IntegrityError:
            existing = get_job(job_id)
            if existing is None:
                raise
    if existing.kind != kind or existing.params != params:
        raise JobConflict(f"job id {job_id} is already used by another job")
    return existing, False


def submit(kind: str, params: dict[str, Any], job_id: str | None = None) -> db.Job:
    """Create (or find) a job and hand it to the configured executor. Re-submitting a job that is
    still queued hands it over again, which is harmless: ``execute`` runs it once. A job that
    cannot be handed over (the broker is down) stays recorded as queued: ``requeue_queued`` hands
    it over when a worker or the API starts, and workers look again every REQUEUE_INTERVAL_S."""
    job, _created = create(kind, params, job_id)
    if job.state == "queued":
        try:
            dispatch(job)
        except Exception as exc:  # noqa: BLE001 - recorded; handed over later
            if get_settings().executor != "celery":
                raise
            log.warning("job %s recorded but not handed to the broker (%s); it will be re-queued", job.id, exc)
    return job


def queue_of(job: db.Job) -> str:
    queue = (job.params or {}).get("queue") if job.kind == "noop" else None
    return queue if queue in QUEUES else KIND_QUEUE[job.kind]


def dispatch(job: db.Job) -> None:
    executor = get_settings().executor
    if executor == "celery":
        celery_app().send_task("forager.run_job", args=[job.id], task_id=job.id, queue=queue_of(job))
    elif executor == "embedded":
        embedded().submit(job.id, queue_of(job))
    else:
        raise ValueError(f"FORAGER_EXECUTOR must be 'embedded' or 'celery', not {executor!r}")


def requeue_orphans() -> int:
    """Hand over again the running jobs whose lease lapsed and that no message will bring back (e.g.
    a job killed by the hard time limit). Harmless if a message for them is still on its way."""
    with db.session() as s:
        running = s.scalars(select(db.Job).where(db.Job.state == "running")).all()
    orphans = [j for j in running if lease_remaining(j) == 0]
    for job in orphans:
        dispatch(job)
    return len(orphans)


def requeue_queued(min_age_s: float = 0.0) -> int:
    """Hand over again the queued jobs (older than ``min_age_s``, and not waiting for a retry's
    backoff): those recorded while the broker was down never reached it. A job whose message is
    still in the broker runs once anyway (``execute`` claims it by compare-and-set)."""
    cutoff = utcnow() - timedelta(seconds=min_age_s)
    with db.session() as s:
        queued = s.scalars(select(db.Job).where(db.Job.state == "queued", db.Job.created_at <= cutoff)).all()
    now = utcnow().isoformat()
    due = [j for j in queued if (j.result or {}).get("retry_at", "") <= now]
    for job in due:
        dispatch(job)
    return len(due)


def recover_on_start() -> dict[str, int]:
    """What the API and workers do when they start: reap what dead processes of this host left
    (``forager.reaper``), and hand over again the jobs no message will bring
    back (queued ones that never reached the broker, running ones whose lease lapsed). Each step
    is idempotent and safe while other processes run."""
    from forager.jobs.reaper import reap

    out = {"queued": 0, "orphans": 0, **reap()}
    try:
        if get_settings().executor == "embedded":
            out["queued"] = embedded().recover()
        else:
            out["queued"], out["orphans"] = requeue_queued(), requeue_orphans()
    except Exception:  # noqa: BLE001
        log.exception("could not re-queue unfinished jobs")
    return out


REQUEUE_INTERVAL_S = 60.0
"""How often a Celery worker hands over again jobs queued longer than this (broker down at submit)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ----------------------------------------------------------------------------- embedded executor
def _parse_concurrency(spec: str) -> dict[str, int]:
    out = {q: 1 for q in QUEUES}
    for part in spec.split(","):
        name, _, n = part.partition("=")
        if name.strip() in out and n.strip().isdigit():
            out[name.strip()] = max(int(n), 1)
    return out


class Embedded:
    """Thread pools inside this process, one per queue; runs the same ``execute`` as Celery."""

    def __init__(self, concurrency: dict[str, int]) -> None:
        self.pools = {q: ThreadPoolExecutor(n, thread_name_prefix=f"forager-{q}")
                      for q, n in concurrency.items()}
        self.name = f"embedded@{worker_name()}"
        self.timers: list[threading.Timer] = []

    def submit(self, job_id: str, queue: str) -> None:
        self.pools[queue].submit(self._run, job_id, queue)

    def _run(self, job_id: str, queue: str) -> None:
        try:
            outcome = execute(job_id, self.name)
        except Exception:  # noqa: BLE001 - e.g. the database went away; try again shortly
            log.exception("job %s could not be executed", job_id)
            outcome = Outcome("retry", retry_in=backoff(1))
        if outcome.retry_in is not None:
            timer = threading.Timer(outcome.retry_in, self.submit, args=(job_id, queue))
            timer.daemon = True
            timer.start()
            self.timers = [t for t in self.timers if t.is_alive()] + [timer]

    def recover(self) -> int:
        """Hand over again every unfinished job (after a restart of the process)."""
        with db.session() as s:
            jobs = s.scalars(select(db.Job).where(db.Job.state.in_(("queued", "running")))).all()
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
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = Embedded(_parse_concurrency(get_settings().embedded_concurrency))
        return _embedded


def shutdown_embedded() -> None:
    global _embedded
    with _embedded_lock:
        if _embedded is not None:
            _embedded.shutdown()
            _embedded = None


# ----------------------------------------------------------------------------- Celery
def celery_config() -> dict[str, Any]:
    s = get_settings()
    hard = s.job_time_limit_s
    visibility = s.job_visibility_timeout_s or int(hard * 1.1) + 60
    if visibility <= hard:
        raise ValueError("FORAGER_JOB_VISIBILITY_TIMEOUT_S must exceed FORAGER_JOB_TIME_LIMIT_S, "
                         "or a long job is delivered twice")
    from kombu import Queue

    return {
        "broker_url": s.redis_url,
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "global_keyprefix": s.redis_key_prefix,
            "unacked_restore_interval": s.job_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        "task_ignore_result": True,  # results live on the job row
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": hard,
        "task_soft_time_limit": max(int(hard * 0.95), 1),
        "task_queues": [Queue(q, routing_key=q) for q in QUEUES],
        "task_default_queue": "tasks",
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
    }


@lru_cache
def _celery(key: tuple[str, str]):  # type: ignore[no-untyped-def]
    from celery import Celery
    from celery.signals import worker_process_init, worker_ready

    app = Celery("forager")
    app.conf.update(celery_config())

    @app.task(name="forager.run_job", bind=True, max_retries=None)
    def run_job(self, job_id: str) -> str:  # type: ignore[no-untyped-def]
        outcome = execute(job_id, self.request.hostname or worker_name())
        if outcome.retry_in is not None:
            raise self.retry(countdown=outcome.retry_in)
        return outcome.status

    @worker_ready.connect(weak=False)
    def _revive_orphans(**_: Any) -> None:
        out = recover_on_start()
        if any(out.values()):
            log.warning("at start: %s", out)

        def sweep() -> None:  # jobs recorded while the broker was down, after this start
            while True:
                time.sleep(REQUEUE_INTERVAL_S)
                try:
                    requeue_queued(min_age_s=REQUEUE_INTERVAL_S)
                except Exception:  # noqa: BLE001 - looked at again next interval
                    log.exception("could not re-queue queued jobs")

        threading.Thread(target=sweep, daemon=True, name="forager-requeue").start()

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_: Any) -> None:  # forked children must not share the parent's pool
        db.reset_engines()

    return app


def celery_app():  # type: ignore[no-untyped-def]
    s = get_settings()
    return _celery((s.redis_url, s.redis_key_prefix))


def run_worker(queues: list[str], concurrency: int, name: str | None = None, loglevel: str = "INFO") -> None:
    """Run a Celery worker in this process (blocks)."""
    bad = [q for q in queues if q not in QUEUES]
    if bad:
        raise ValueError(f"unknown queue(s) {', '.join(bad)}; queues are {', '.join(QUEUES)}")
    argv = ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-P", "prefork",
            "--loglevel", loglevel, "-n", name or f"forager-{'-'.join(queues)}@%h", "--without-gossip",
            "--without-mingle"]
    celery_app().worker_main(argv)
