"""What each stage's item runs (a job of the job system: build, tasks or run) and what its
finished job leads to: a state, a result, a failure cause, and the next stage's items.

builds -> tasks: one tasks item per validated image and task kind with a quota;
tasks -> episodes: ``episodes_per_task`` episode items per task (the first ``quota`` tasks of the
image and kind, so a generation repeated after an interruption never adds more)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forager.build.failure import classify
from forager.campaign.hooks import image_validated
from forager.campaign.spec import CampaignSpec
from forager.enums import CampaignStage, FailureCause, ItemState, JobKind, JobState
from forager.jobs.calloff import CANCELLED
from forager.store import campaigns as rows
from forager.store import db

JOB_KIND = {CampaignStage.BUILD: JobKind.BUILD, CampaignStage.TASKS: JobKind.TASKS,
            CampaignStage.EPISODE: JobKind.RUN, CampaignStage.TRACES: JobKind.TRACES}


@dataclass
class Settled:
    state: ItemState
    result: dict[str, Any] = field(default_factory=dict)
    cause: str | None = None
    error: str | None = None
    retry: bool = False
    """An infrastructure failure: the item goes back to pending (if attempts remain)."""


def job_id_for(item: db.CampaignItem, attempt: int) -> str:
    """The job an item's attempt runs as: fixed by item and attempt, so a resumed run finds it (and
    a worker finds the item, hence the campaign, from the job: ``rows.item_id_of``)."""
    return rows.job_id_for(item.id, attempt)


def job_params(item: db.CampaignItem, spec: CampaignSpec) -> dict[str, Any]:
    p = item.params
    if item.stage == CampaignStage.BUILD:
        return {"source": p["source"], "commit": p.get("commit")}
    if item.stage == CampaignStage.TASKS:
        return {"image": p["image"], "kind": p["kind"], "max_tasks": p["max_tasks"], "seed": 0, "fill_quota": True}
    if item.stage == CampaignStage.TRACES:
        return {"image": p["image"], "functions": p["functions"], "seed": 0}
    out = {"task_id": p["task_id"], "agent": spec.agent}
    out.update({k: v for k, v in (("model_url", spec.model_url), ("model_name", spec.model_name),
                                  ("max_steps", spec.max_steps)) if v})
    return out


def _settle_build(item: db.CampaignItem, job: db.Job, spec: CampaignSpec) -> Settled:
    res = dict(job.result or {})
    res.pop("history", None)
    if job.state == JobState.SUCCEEDED and res.get("image"):
        image = str(res["image"])
        for kind, quota in spec.tasks.items():
            if quota > 0:
                rows.add_item(item.campaign_id, CampaignStage.TASKS, f"{image}:{kind}",
                              {"image": image, "kind": kind, "max_tasks": quota}, source=item.source,
                              parent_id=item.id)
        if spec.traces_per_image > 0:
            rows.add_item(item.campaign_id, CampaignStage.TRACES, f"{image}:traces",
                          {"image": image, "functions": spec.traces_per_image}, source=item.source,
                          parent_id=item.id)
        image_validated(item.campaign_id, image)
        return Settled(ItemState.DONE, _build_summary(res))
    error = res.get("error") or job.error or "build failed"
    build_id = res.get("build_id")
    logs = rows.build_log_outputs(build_id) if build_id else []
    failure = classify(error, logs, res.get("tests") or {})
    out = {**_build_summary(res), "detail": failure.detail}
    return Settled(ItemState.FAILED, out, failure.cause, error[:2000], retry=failure.infrastructure)


def _build_summary(res: dict[str, Any]) -> dict[str, Any]:
    keys = ("build_id", "image", "status", "python", "tests", "duration_s", "pushed", "commit")
    return {k: res.get(k) for k in keys if k in res}


def _settle_tasks(item: db.CampaignItem, job: db.Job, spec: CampaignSpec) -> Settled:
    res = dict(job.result or {})
    p = item.params
    task_ids = rows.task_ids_of(p["image"], p["kind"], int(p["max_tasks"]))
    for task_id in task_ids:
        for n in range(spec.episodes_per_task):
            rows.add_item(item.campaign_id, CampaignStage.EPISODE, f"{task_id}#{n}", {"task_id": task_id},
                          source=item.source, parent_id=item.id)
    out = {"task_ids": task_ids, "candidates": res.get("candidates"), "duration_s": res.get("duration_s")}
    if task_ids:
        return Settled(ItemState.DONE, out)
    error = res.get("error") or job.error or "no candidate became a validated task"
    cause = FailureCause.INFRA_ENGINE if job.state == JobState.FAILED and "gave up" in (job.error or "") else None
    return Settled(ItemState.FAILED, out, cause or FailureCause.NO_TASKS, str(error)[:2000], retry=cause is not None)


def _settle_episode(item: db.CampaignItem, job: db.Job, spec: CampaignSpec) -> Settled:
    res = {k: v for k, v in (job.result or {}).items() if k != "history"}
    if job.state == JobState.SUCCEEDED and res.get("trajectory_id"):
        return Settled(ItemState.DONE, res)
    error = job.error or "the episode did not run"
    return Settled(ItemState.FAILED, res, FailureCause.EPISODE_ERROR, error[:2000], retry="gave up" in error)


def _settle_traces(item: db.CampaignItem, job: db.Job) -> Settled:
    res = {k: v for k, v in (job.result or {}).items() if k != "history"}
    if job.state == JobState.SUCCEEDED and int(res.get("stored") or 0) + int(res.get("already_stored") or 0) > 0:
        return Settled(ItemState.DONE, res)
    error = res.get("error") or job.error or "no trace was collected"
    return Settled(ItemState.FAILED, res, FailureCause.NO_TRACES, str(error)[:2000], retry="gave up" in str(error))


def settle(item: db.CampaignItem, job: db.Job, spec: CampaignSpec) -> Settled:
    """What a finished job means for its item (and the next stage's items, inserted here)."""
    if job.error == CANCELLED:  # ended by its worker after a cancel: never a failure of the source
        return Settled(ItemState.CANCELLED, {}, "cancelled", CANCELLED)
    if item.stage == CampaignStage.BUILD:
        return _settle_build(item, job, spec)
    if item.stage == CampaignStage.TASKS:
        return _settle_tasks(item, job, spec)
    if item.stage == CampaignStage.TRACES:
        return _settle_traces(item, job)
    return _settle_episode(item, job, spec)
