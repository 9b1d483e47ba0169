"""``campaign run``: the loop that drives a campaign. Each turn it settles the items whose job
ended (``stages.settle``: result, cause, next stage's items), then claims due pending items up to
each stage's concurrency — a compare-and-set on the item row — and hands each to the job system
as a job whose id is fixed by item and attempt. Stages overlap: a validated image's tasks start at
once, whatever the other builds are doing.

Resuming is the same loop: a rerun finds its running items' jobs by id (submitting one that was
claimed but never handed over, handing unfinished ones to this process's executor) and settles the
finished ones, so nothing is done twice and nothing is lost. One runner per campaign at a time;
the runner of a dead process is replaced."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from forager import jobs
from forager.campaign.cancel import end_running
from forager.campaign.export import export_campaign
from forager.campaign.funnel import funnel
from forager.campaign.plan import retry_unexpanded
from forager.campaign.spec import CampaignSpec
from forager.campaign.stages import JOB_KIND, job_id_for, job_params, settle
from forager.clock import utcnow
from forager.config import get_settings, reset_settings
from forager.enums import CampaignStage, CampaignState, ItemState, JobState
from forager.errors import InvalidInput
from forager.jobs.state import FINAL
from forager.owner import is_dead, this_process
from forager.store import campaigns as rows
from forager.store import db

log = logging.getLogger("forager.campaign")
STAGES = tuple(CampaignStage)
RETRY_MAX_S = 3600.0
Tick = Callable[[dict[str, Any]], None]


def limits_of(concurrency: int, overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Concurrency per stage: ``concurrency`` for each, unless ``overrides`` names the stage."""
    out = {s.value: max(1, concurrency) for s in STAGES}
    for stage, n in (overrides or {}).items():
        if stage not in out or n < 1:
            raise InvalidInput(f"{stage}={n}: stages are {', '.join(out)}, each at least 1")
        out[stage] = n
    return out


def size_embedded(limits: dict[str, int]) -> None:
    """Give the in-process executor one thread per item a stage may run at once."""
    if get_settings().executor != "embedded":
        return
    os.environ["FORAGER_EMBEDDED_CONCURRENCY"] = (f"build={limits['build']},tasks={limits['tasks']},"
                                                  f"agent={limits['episode']}")
    reset_settings()
    jobs.shutdown_embedded()


def _take(camp: db.Campaign, me: str) -> None:
    if camp.runner == me or rows.set_runner(camp.id, None, me):
        return
    if camp.runner and is_dead(camp.runner) and rows.set_runner(camp.id, camp.runner, me):
        log.warning("campaign %s: took over from dead runner %s", camp.name, camp.runner)
        return
    raise InvalidInput(f"campaign {camp.name} is being run by {camp.runner}")


def _handover(campaign_id: str, spec: CampaignSpec) -> None:
    """At start: every running item's job is made to run again if it is not finished (a resumed
    run); a claimed item whose job was never recorded gets it now."""
    for item in rows.items(campaign_id, states=[ItemState.RUNNING]):
        job = jobs.get_job(item.job_id or "")
        if job is None:
            jobs.submit(JOB_KIND[CampaignStage(item.stage)], job_params(item, spec), item.job_id)
        elif job.state not in FINAL:
            jobs.dispatch(job)


def _backoff(attempt: int) -> float:
    return min(get_settings().campaign_retry_backoff_s * 2 ** max(attempt - 1, 0), RETRY_MAX_S)


_redispatched: dict[str, float] = {}


def _revive(job: db.Job) -> None:
    """Hand over again a running job whose lease lapsed (its worker died; no message may bring it
    back before the broker's visibility timeout), at most once per lease period."""
    policy = jobs.JobPolicy.from_settings()
    now = time.monotonic()
    if job.state == JobState.RUNNING and policy.lease_remaining(job) == 0 \
            and now - _redispatched.get(job.id, 0.0) > policy.lease_s:
        _redispatched[job.id] = now
        log.warning("job %s lost its worker; handed over again", job.id)
        jobs.dispatch(job)


def _settle_running(campaign_id: str, spec: CampaignSpec) -> dict[str, int]:
    """Settle the running items whose job ended; running items left per stage."""
    running = dict.fromkeys((s.value for s in STAGES), 0)
    for item in rows.items(campaign_id, states=[ItemState.RUNNING]):
        job = jobs.get_job(item.job_id or "")
        if job is None:
            jobs.submit(JOB_KIND[CampaignStage(item.stage)], job_params(item, spec), item.job_id)
        if job is None or job.state not in FINAL:
            running[item.stage] += 1
            if job is not None:
                _revive(job)
            continue
        out = settle(item, job, spec)
        if out.retry and item.attempts < get_settings().campaign_infra_attempts:
            delay = _backoff(item.attempts)
            rows.retry_item(item, utcnow() + timedelta(seconds=delay), out.cause or "", out.error or "")
            log.warning("campaign item %s: %s; retry in %.0fs", item.key, out.cause, delay)
        else:
            rows.finish_item(item, out.state, out.result, out.cause, out.error)
    return running


def _start_due(campaign_id: str, spec: CampaignSpec, limits: dict[str, int], running: dict[str, int]) -> int:
    """Claim and hand over due pending items up to each stage's limit; how many started."""
    started = 0
    for stage in reversed(STAGES):  # later stages first: finished trajectories flow early
        free = limits[stage.value] - running[stage.value]
        if free <= 0:
            continue
        for item in rows.items(campaign_id, stage, [ItemState.PENDING], due_before=utcnow(), limit=free):
            job_id = job_id_for(item, item.attempts + 1)
            if rows.claim_item(item, job_id):
                item.job_id, item.attempts = job_id, item.attempts + 1
                jobs.submit(JOB_KIND[stage], job_params(item, spec), job_id)
                started += 1
    return started


def _finished(campaign_id: str) -> bool:
    per_stage = rows.counts(campaign_id)
    return not any(c.get(ItemState.PENDING, 0) or c.get(ItemState.RUNNING, 0) for c in per_stage.values())


def _export(campaign_id: str) -> None:
    """The last stage: the trajectories exported under FORAGER_HOME (a failure is logged, never fatal)."""
    try:
        out = export_campaign(campaign_id)
        log.info("campaign %s: %d trajectories exported to %s", campaign_id, out["written"], out["path"])
    except Exception:  # noqa: BLE001 - the campaign's own work is done either way
        log.exception("campaign %s: export failed", campaign_id)


def _loop(camp: db.Campaign, spec: CampaignSpec, limits: dict[str, int], on_tick: Tick | None,
          stop: threading.Event) -> None:
    poll = get_settings().campaign_poll_s
    while not stop.is_set():
        state = rows.get_campaign(camp.id).state
        if state == CampaignState.CANCELLED:
            end_running(camp.id)
            return
        running = _settle_running(camp.id, spec)
        _start_due(camp.id, spec, limits, running)
        if _finished(camp.id):
            _export(camp.id)
            rows.set_state(camp.id, [CampaignState.ACTIVE], CampaignState.DONE)
            return
        if on_tick:
            on_tick(funnel(camp.id))
        stop.wait(poll)


def run(ref: str, limits: dict[str, int], on_tick: Tick | None = None,
        stop: threading.Event | None = None) -> dict[str, Any]:
    """Drive campaign ``ref`` (name or id) until every item is done, failed or cancelled, or until
    ``stop`` is set (then a later ``run`` resumes it). Returns the funnel."""
    camp = rows.get_campaign(ref)
    if camp.state == CampaignState.CANCELLED:
        raise InvalidInput(f"campaign {camp.name} was cancelled")
    spec = CampaignSpec(**camp.spec)
    me = this_process()
    _take(camp, me)
    try:
        if camp.state == CampaignState.DONE:  # done before: items may have been added since
            rows.set_state(camp.id, [CampaignState.DONE], CampaignState.ACTIVE)
        retry_unexpanded(camp.id, spec)
        _handover(camp.id, spec)
        _loop(camp, spec, limits, on_tick, stop or threading.Event())
    finally:
        rows.set_runner(camp.id, me, None)
    out = funnel(camp.id)
    if on_tick:
        on_tick(out)
    return out
