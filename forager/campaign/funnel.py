"""What a campaign has made so far (``campaign status``: the funnel) and why things failed
(``campaign report``: causes with counts and example sources), with throughput per hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from forager.enums import CampaignStage, FailureCause, ItemState
from forager.store import campaigns as rows


def _hours(campaign_id: str, stage: str) -> float:
    times = [t for s, _state, t in rows.finish_times(campaign_id) if s == stage]
    started = [i.started_at for i in rows.items(campaign_id, stage) if i.started_at]
    if not times or not started:
        return 0.0
    return max((max(times) - min(started)).total_seconds() / 3600, 1e-9)


def _per_hour(n: int, hours: float) -> float | None:
    return round(n / hours, 2) if hours else None


def funnel(ref: str) -> dict[str, Any]:
    """versions -> images validated -> tasks -> episodes (resolved), with per-stage item states."""
    camp = rows.get_campaign(ref)
    counts = rows.counts(camp.id)
    tasks = sum(len(i.result.get("task_ids") or []) for i in
                rows.items(camp.id, CampaignStage.TASKS, [ItemState.DONE]))
    episodes = rows.items(camp.id, CampaignStage.EPISODE, [ItemState.DONE])
    builds = counts.get(CampaignStage.BUILD, {})
    failed = rows.items(camp.id, CampaignStage.BUILD, [ItemState.FAILED])
    infra = sum(1 for i in failed if i.cause and FailureCause(i.cause).infrastructure)
    validated = builds.get(ItemState.DONE, 0)
    return {
        "campaign": camp.name, "id": camp.id, "state": camp.state,
        "created_at": camp.created_at.isoformat(), "runner": camp.runner,
        "versions": sum(builds.values()),
        "images_validated": validated,
        "builds_failed": len(failed) - infra,
        "builds_failed_infrastructure": infra,
        "tasks": tasks,
        "episodes": len(episodes),
        "episodes_resolved": sum(1 for e in episodes if e.result.get("resolved")),
        "traces": sum(int(i.result.get("stored") or 0)
                      for i in rows.items(camp.id, CampaignStage.TRACES, [ItemState.DONE])),
        "stages": {s.value: counts.get(s.value, {}) for s in CampaignStage},
        "images_per_hour": _per_hour(validated, _hours(camp.id, CampaignStage.BUILD)),
        "tasks_per_hour": _per_hour(tasks, _hours(camp.id, CampaignStage.TASKS)),
        "episodes_per_hour": _per_hour(len(episodes), _hours(camp.id, CampaignStage.EPISODE)),
    }


def report(ref: str) -> dict[str, Any]:
    """The funnel plus failures by cause per stage (counts, example sources, detail)."""
    camp = rows.get_campaign(ref)
    return {**funnel(camp.id),
            "failures": {s.value: rows.failure_causes(camp.id, s.value) for s in CampaignStage}}


def throughput(ref: str, buckets: int = 24) -> dict[str, list[tuple[str, int]]]:
    """Items finished per stage over time, in ``buckets`` equal intervals: ``{stage: [(iso, n)]}``."""
    camp = rows.get_campaign(ref)
    times = rows.finish_times(camp.id)
    if not times:
        return {}
    start = min(camp.created_at, *(i.started_at for i in rows.items(camp.id) if i.started_at))
    end = max(t for _s, _st, t in times)
    width = max((end - start).total_seconds() / buckets, 1.0)
    out: dict[str, list[int]] = {s.value: [0] * buckets for s in CampaignStage}
    for stage, state, t in times:
        if state == ItemState.DONE and stage in out:
            out[stage][min(max(int((t - start).total_seconds() / width), 0), buckets - 1)] += 1
    labels = [(start + timedelta(seconds=width * (i + 1))).isoformat(timespec="seconds") for i in range(buckets)]
    return {stage: list(zip(labels, ns, strict=True)) for stage, ns in out.items()}
