"""Long work as jobs (builds, task generation, episodes): a job is a ``db.Job`` row moved by
compare-and-set (``state``), run one attempt at a time (``attempt``) by a handler per kind
(``handlers``), on the embedded or Celery executor (``embedded``, ``celery_app``), handed over by
``dispatch``; ``images`` moves built images between workers, ``reaper`` ends what dead processes left.

The names callers use are re-exported here: ``from forager import jobs`` then ``jobs.submit(...)``.
"""

from forager.jobs.attempt import execute
from forager.jobs.celery_app import celery_config, run_worker
from forager.jobs.dispatch import dispatch, recover_on_start, submit
from forager.jobs.embedded import embedded, shutdown_embedded
from forager.jobs.handlers import build_id_for
from forager.jobs.state import JobConflict, JobFailed, JobPolicy, create, get_job, idempotent_id, queue_of

__all__ = [
    "JobConflict", "JobFailed", "JobPolicy", "build_id_for", "celery_config", "create", "dispatch", "embedded",
    "execute", "get_job", "idempotent_id", "queue_of", "recover_on_start", "run_worker", "shutdown_embedded",
    "submit",
]
