"""``campaign cancel``: no new work starts, pending items are cancelled, and running work is ended
cleanly — jobs not yet started are failed before a worker takes them, build and task containers
are removed (the build or generation then ends with an error), running episodes stop at their next
step (and remove their containers) — then the running items are recorded cancelled.

When a ``campaign run`` drives the campaign, it sees the cancellation on its next turn and ends its
running work itself (its executor runs the work); otherwise the cancelling process does. Either
reaches only its own engine: a job running on a Celery worker is ended by that worker, which sees
at its next lease renewal that the job's campaign was cancelled (``forager.jobs.calloff``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from forager.build.owners import BUILD_LABEL
from forager.clock import utcnow
from forager.config import get_settings
from forager.enums import CampaignStage, CampaignState, ItemState, JobState
from forager.episode.budget import STOP
from forager.errors import EngineError
from forager.jobs.calloff import CANCELLED
from forager.jobs.handlers import build_id_for
from forager.jobs.state import FINAL, cas, get_job
from forager.owner import OWNER_LABEL, is_dead
from forager.runtime import get_runtime
from forager.store import campaigns as rows
from forager.store import db

log = logging.getLogger("forager.campaign")


def _remove_containers(item: db.CampaignItem, worker: str | None) -> int:
    """Remove the containers of a running build or task generation; how many. Task containers are
    matched by image *and* by the process running the job (``worker``), so another farm's or another
    process's work on the same image is never touched."""
    rt = get_runtime()
    if item.stage == CampaignStage.BUILD and item.job_id:
        found = rt.containers({BUILD_LABEL: build_id_for(item.job_id)})
    elif item.stage == CampaignStage.TASKS and worker:
        client = getattr(rt, "client", None)  # the Docker runtime: its containers name their image
        if client is None:
            return 0
        listed = client.api.containers(filters={"label": "forager.role=tasks"})
        found = [c for c in rt.containers({"forager.role": "tasks", OWNER_LABEL: worker})
                 if any(x["Id"] == c.id and x.get("Image") == item.params.get("image") for x in listed)]
    else:
        return 0
    return sum(rt.remove_container(c.id) for c in found)


def _stop_item(item: db.CampaignItem) -> None:
    job = get_job(item.job_id or "")
    if job is not None and job.state == JobState.QUEUED:
        cas(job.id, JobState.QUEUED, job.attempts, state=JobState.FAILED, error=CANCELLED, finished_at=utcnow())
    if job is not None and job.state not in FINAL:
        try:
            _remove_containers(item, job.worker)
        except (EngineError, OSError) as exc:
            log.warning("cancel: could not remove the containers of %s: %s", item.key, exc)


def _wait(items: list[db.CampaignItem], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        jobs_left = [get_job(i.job_id or "") for i in items]
        if all(j is None or j.state in FINAL for j in jobs_left):
            return
        time.sleep(0.5)
    log.warning("cancel: running work did not end within %.0fs; recorded cancelled anyway", wait_s)


def end_running(campaign_id: str) -> int:
    """End the campaign's running work and record it cancelled; how many items were running."""
    running = rows.items(campaign_id, states=[ItemState.RUNNING])
    if running:
        STOP.set()  # episodes this process runs stop at their next step
        try:
            for item in running:
                _stop_item(item)
            _wait(running, get_settings().campaign_cancel_wait_s)
        finally:
            STOP.clear()
    rows.cancel_items(campaign_id, [ItemState.RUNNING, ItemState.PENDING])
    return len(running)


def cancel(ref: str) -> dict[str, Any]:
    """Cancel campaign ``ref``: what was cancelled, and who ends the running work."""
    camp = rows.get_campaign(ref)
    rows.set_state(camp.id, [CampaignState.ACTIVE], CampaignState.CANCELLED)
    pending = rows.cancel_items(camp.id, [ItemState.PENDING])
    out: dict[str, Any] = {"campaign": camp.name, "pending_cancelled": pending}
    if camp.runner and not is_dead(camp.runner):
        out["running_ended_by"] = camp.runner
    else:
        out["running_cancelled"] = end_running(camp.id)
    return out
