"""``GET /v1/stats``: the farm's counts (``forager.store.stats``)."""

from __future__ import annotations

from fastapi import APIRouter

from forager.api.deps import Read
from forager.api.schemas import Stats
from forager.enums import BuildStatus
from forager.store.stats import FarmStats, read_farm_stats

router = APIRouter(prefix="/v1/stats", tags=["stats"])


def _rounded(rate: float | None) -> float | None:
    return round(rate, 4) if rate is not None else None


def as_stats(f: FarmStats) -> Stats:
    """The API's shape of the farm's counts (rates rounded to 4 places)."""
    return Stats(
        builds={"total": f.builds_total, "by_status": f.builds_by_status,
                "validation_rate": _rounded(f.validation_rate),
                "last_24h": sum(f.builds_last_24h_by_status.values()),
                "validated_last_24h": f.builds_last_24h_by_status.get(BuildStatus.VALIDATED, 0)},
        images={"total": f.images},
        tasks={"total": f.tasks_total, "by_kind": f.tasks_by_kind, "last_24h": f.tasks_last_24h},
        trajectories={"total": f.trajectories, "with_reward": f.rewarded, "resolved": f.resolved,
                      "resolve_rate": _rounded(f.resolve_rate), "by_origin": f.trajectories_by_origin},
        jobs={"by_state": f.jobs_by_state},
    )


@router.get("", response_model=Stats)
def stats(_: Read) -> Stats:
    return as_stats(read_farm_stats())
