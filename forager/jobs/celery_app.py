"""The Celery executor (``FORAGER_EXECUTOR=celery``): a Redis broker, queues ``build``, ``tasks``
and ``agent``, acks late, re-queue on worker loss, prefetch 1, and a visibility timeout above the
hard time limit (checked by the settings). Workers run the same ``execute`` as the embedded executor."""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from typing import Any

from forager.config import Settings, get_settings
from forager.errors import InvalidInput
from forager.jobs.attempt import execute
from forager.jobs.state import QUEUES, worker_name
from forager.store import db

log = logging.getLogger("forager.jobs")

REQUEUE_INTERVAL_S = 60.0
"""How often a Celery worker hands over again jobs queued longer than this (broker down at submit)."""
TASK_NAME = "forager.run_job"


def celery_config(s: Settings | None = None) -> dict[str, Any]:
    """The Celery settings of a farm, spelt as Celery reads them."""
    from kombu import Queue

    s = s or get_settings()
    hard = s.job_time_limit_s
    return {
        "broker_url": s.redis_url,
        "broker_transport_options": {
            "visibility_timeout": s.visibility_timeout_s,
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


def _sweep_queued() -> None:
    """Forever: hand over again the jobs recorded while the broker was down."""
    from forager.jobs.dispatch import requeue_queued  # dispatch imports this module

    while True:
        time.sleep(REQUEUE_INTERVAL_S)
        try:
            requeue_queued(min_age_s=REQUEUE_INTERVAL_S)
        except Exception:  # noqa: BLE001 - looked at again next interval
            log.exception("could not re-queue queued jobs")


def _on_worker_ready(**_: Any) -> None:
    from forager.jobs.dispatch import recover_on_start  # dispatch imports this module

    out = recover_on_start()
    if any(out.values()):
        log.warning("at start: %s", out)
    threading.Thread(target=_sweep_queued, daemon=True, name="forager-requeue").start()


def _on_process_init(**_: Any) -> None:
    db.reset_engines()  # forked children must not share the parent's pool


@lru_cache
def _celery(key: tuple[str, str]) -> Any:
    from celery import Celery
    from celery.signals import worker_process_init, worker_ready

    app = Celery("forager")
    app.conf.update(celery_config())

    @app.task(name=TASK_NAME, bind=True, max_retries=None)
    def run_job(self: Any, job_id: str) -> str:
        outcome = execute(job_id, self.request.hostname or worker_name())
        if outcome.retry_in is not None:
            raise self.retry(countdown=outcome.retry_in)
        return str(outcome.status)

    worker_ready.connect(_on_worker_ready, weak=False)
    worker_process_init.connect(_on_process_init, weak=False)
    return app


def celery_app() -> Any:
    """The Celery app of the configured broker (one per Redis URL and key prefix)."""
    s = get_settings()
    return _celery((s.redis_url, s.redis_key_prefix))


def run_worker(queues: list[str], concurrency: int, name: str | None = None, loglevel: str = "INFO") -> None:
    """Run a Celery worker in this process (blocks)."""
    bad = [q for q in queues if q not in QUEUES]
    if bad:
        raise InvalidInput(f"unknown queue(s) {', '.join(bad)}; queues are {', '.join(QUEUES)}")
    argv = ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-P", "prefork",
            "--loglevel", loglevel, "-n", name or f"forager-{'-'.join(queues)}@%h", "--without-gossip",
            "--without-mingle"]
    celery_app().worker_main(argv)
