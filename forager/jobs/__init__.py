"""Long work as jobs (builds, task generation, episodes): a job is a ``db.Job`` row moved by
compare-and-set (``state``), run one attempt at a time (``attempt``) by a handler per kind
(``handlers``), on the embedded or Celery executor (``embedded``, ``celery_app``), handed over by
``dispatch``; ``images`` moves built images between workers, ``reaper`` ends what dead processes left.

The names callers use are re-exported here: ``from forager import jobs`` then ``jobs.submit(...)``.
"""

from forager.jobs.attempt import execute
from forager.jobs.celery_app import REQUEUE_INTERVAL_S, celery_app, celery_config, run_worker
from forager.jobs.dispatch import dispatch, recover_on_start, requeue_orphans, requeue_queued, submit
from forager.jobs.embedded import Embedded, embedded, shutdown_embedded
from forager.jobs.handlers import JOB_KINDS, build_id_for
from forager.jobs.images import ensure_image, publish_image, registry_tag
from forager.jobs.state import (
    QUEUES,
    JobConflict,
    JobContext,
    JobFailed,
    JobPolicy,
    Outcome,
    Verdict,
    backoff,
    create,
    get_job,
    idempotent_id,
    lease_remaining,
    queue_of,
    worker_name,
)

__all__ = [
    "JOB_KINDS", "QUEUES", "REQUEUE_INTERVAL_S", "Embedded", "JobConflict", "JobContext", "JobFailed", "JobPolicy",
    "Outcome", "Verdict", "backoff", "build_id_for", "celery_app", "celery_config", "create", "dispatch",
    "embedded", "ensure_image", "execute", "get_job", "idempotent_id", "lease_remaining", "publish_image",
    "queue_of", "recover_on_start", "registry_tag", "requeue_orphans", "requeue_queued", "run_worker",
    "shutdown_embedded", "submit", "worker_name",
]
