"""A running job called off from outside: its campaign was cancelled (``campaign cancel``), perhaps
on another machine. The worker running the job notices at its next lease renewal (``Heartbeat``) and
ends the work on its own engine: the containers of a build (by the build's label) or of a task
generation or trace collection (this process's containers of that image) are removed, so the work
ends with an error soon; an episode stops at its next step (it removes its container). The attempt
is then recorded failed with ``CANCELLED``, never retried. Under Celery this is what ends running
work on every worker's engine; the cancelling process can only reach its own."""

from __future__ import annotations

import logging

from forager.build.owners import BUILD_LABEL
from forager.enums import JobKind
from forager.episode.budget import stop_thread
from forager.errors import EngineError
from forager.jobs.handlers import build_id_for
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import get_runtime
from forager.store import db
from forager.store.campaigns import job_called_off

log = logging.getLogger("forager.jobs")
CANCELLED = "cancelled by campaign cancel"


def called_off(job_id: str) -> bool:
    """Whether the job should stop now (its campaign was cancelled); False when the registry does
    not answer (asked again at the next renewal)."""
    try:
        return job_called_off(job_id)
    except Exception as exc:  # noqa: BLE001 - the work goes on; the next renewal asks again
        log.warning("could not tell whether %s was called off: %s", job_id, exc)
        return False


def _image_containers(image: str) -> list[str]:
    """Ids of this process's containers started from ``image`` (a task generation's, a trace
    collection's: workspaces and verifiers)."""
    client = getattr(get_runtime(), "client", None)  # the Docker runtime: its listing names the image
    if client is None:
        return []
    listed = client.api.containers(all=True, filters={"label": f"{OWNER_LABEL}={this_process()}"})
    return [str(c["Id"]) for c in listed if c.get("Image") == image]


def end_here(job: db.Job, thread: int) -> int:
    """End the called-off ``job``'s work in this process (run by ``thread``) on this engine; how many
    containers were removed. Safe to call again (each lease renewal does, until the work ends: a
    build that lost its container may start its next path's)."""
    if job.kind == JobKind.RUN:
        stop_thread(thread)
        return 0
    rt = get_runtime()
    try:
        if job.kind == JobKind.BUILD:
            ids = [c.id for c in rt.containers({BUILD_LABEL: build_id_for(job.id)})]
        elif job.kind in (JobKind.TASKS, JobKind.TRACES):
            ids = _image_containers(str((job.params or {}).get("image", "")))
        else:
            return 0
        removed = sum(rt.remove_container(i) for i in ids)
    except (EngineError, OSError) as exc:
        log.warning("job %s called off: could not remove its containers: %s", job.id, exc)
        return 0
    if removed:
        log.warning("job %s called off (its campaign was cancelled): %d container(s) removed", job.id, removed)
    return removed
