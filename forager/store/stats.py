"""Farm statistics, read from the registry in a handful of grouped queries: one place for the
numbers the API (``GET /v1/stats``), the viewer's overview and the command line show.

``farm_stats(session)`` answers the counts (cheap: one grouped query per table);
``farm_activity(session)`` the per-repository table and the per-day series the overview plots;
``recent_builds`` / ``recent_trajectories`` the newest rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from forager.clock import utcnow
from forager.enums import BuildStatus
from forager.store import db


def counts(s: Session, column: Any, *where: Any) -> dict[str, int]:
    """How many rows have each value of ``column`` (keys as strings: ``"None"`` for NULL)."""
    rows = s.execute(select(column, func.count()).where(*where).group_by(column).order_by(column)).all()
    return {str(k): int(n) for k, n in rows}


def _total(s: Session, model: Any, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def rate(num: int, den: int) -> float | None:
    """``num / den``, or None when there is nothing to divide by."""
    return num / den if den else None


@dataclass
class FarmStats:
    """What the farm holds. ``*_by_*`` map a status/kind/state to its count; ``last_24h`` fields
    count rows created in the day before ``since``."""

    builds_by_status: dict[str, int]
    builds_last_24h_by_status: dict[str, int]
    images: int
    repositories: int
    tasks_by_kind: dict[str, int]
    tasks_last_24h: int
    trajectories_by_origin: dict[str, int]
    rewarded: int
    """Trajectories that carry a reward (resolved is true or false)."""
    resolved: int
    jobs_by_state: dict[str, int]

    @property
    def builds_total(self) -> int:
        return sum(self.builds_by_status.values())

    @property
    def validation_rate(self) -> float | None:
        """Validated builds among finished (validated or failed) ones."""
        validated = self.builds_by_status.get(BuildStatus.VALIDATED, 0)
        return rate(validated, validated + self.builds_by_status.get(BuildStatus.FAILED, 0))

    @property
    def tasks_total(self) -> int:
        return sum(self.tasks_by_kind.values())

    @property
    def trajectories(self) -> int:
        return sum(self.trajectories_by_origin.values())

    @property
    def resolve_rate(self) -> float | None:
        """Resolved trajectories among those with a reward."""
        return rate(self.resolved, self.rewarded)

    @property
    def jobs_total(self) -> int:
        return sum(self.jobs_by_state.values())


def farm_stats(s: Session, now: datetime | None = None) -> FarmStats:
    """The farm's counts; ``now`` (naive UTC, default the clock) ends the last-24-hours window."""
    day_ago = (now or utcnow()) - timedelta(days=1)
    t = db.Trajectory
    return FarmStats(
        builds_by_status=counts(s, db.Build.status),
        builds_last_24h_by_status=counts(s, db.Build.status, db.Build.created_at >= day_ago),
        images=_total(s, db.Image),
        repositories=_total(s, db.Repository),
        tasks_by_kind=counts(s, db.Task.kind),
        tasks_last_24h=_total(s, db.Task, db.Task.created_at >= day_ago),
        trajectories_by_origin=counts(s, t.origin),
        rewarded=_total(s, t, t.resolved.is_not(None)),
        resolved=_total(s, t, t.resolved.is_(True)),
        jobs_by_state=counts(s, db.Job.state),
    )


@dataclass
class RepositoryRuns:
    repository: str
    runs: int
    resolved: int
    rate: float | None
    """Resolved among the runs with a reward."""


@dataclass
class FarmActivity:
    """The overview's table and plots. Each series is a list of rows ``(day, *numbers)``:
    builds ``(day, validated, failed)``, tasks ``(day, count)``, runs ``(day, count, resolved, rewarded)``."""

    per_repository: list[RepositoryRuns]
    series: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def _by_day(s: Session, day_col: Any, *cols: Any) -> list[tuple[Any, ...]]:
    day = func.date(day_col)
    return [tuple(r) for r in s.execute(select(day, *cols).group_by(day).order_by(day))]


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def farm_activity(s: Session, top: int = 25) -> FarmActivity:
    """Runs per repository (the ``top`` busiest) and the per-day series of builds, tasks and runs."""
    t = db.Trajectory
    per_repo = s.execute(
        select(t.repository, func.count(), _count_if(t.resolved.is_(True)), func.count(t.resolved))
        .group_by(t.repository).order_by(func.count().desc()).limit(top)).all()
    series = {
        "builds": _by_day(s, db.Build.created_at, _count_if(db.Build.status == BuildStatus.VALIDATED),
                          _count_if(db.Build.status == BuildStatus.FAILED)),
        "tasks": _by_day(s, db.Task.created_at, func.count()),
        "runs": _by_day(s, t.created_at, func.count(), _count_if(t.resolved.is_(True)), func.count(t.resolved)),
    }
    return FarmActivity(
        per_repository=[RepositoryRuns(repository=r or "(none)", runs=int(n), resolved=int(ok or 0),
                                       rate=rate(int(ok or 0), int(rew)))
                        for r, n, ok, rew in per_repo],
        series=series,
    )


def recent_builds(s: Session, limit: int = 10) -> list[db.Build]:
    """The newest builds, newest first."""
    return list(s.scalars(select(db.Build).order_by(db.Build.created_at.desc()).limit(limit)))


def recent_trajectories(s: Session, limit: int = 10) -> list[db.Trajectory]:
    """The newest trajectories, newest first."""
    return list(s.scalars(select(db.Trajectory).order_by(db.Trajectory.created_at.desc()).limit(limit)))


def read_farm_stats() -> FarmStats:
    """``farm_stats`` in a session of its own."""
    with db.session() as s:
        return farm_stats(s)


@dataclass
class Overview:
    """Everything the viewer's overview shows, read in one session (rows detached)."""

    counts: FarmStats
    activity: FarmActivity
    recent_builds: list[db.Build]
    recent_runs: list[db.Trajectory]


def overview() -> Overview:
    """The farm's counts, activity, newest builds and newest trajectories, in one session."""
    with db.session() as s:
        return Overview(counts=farm_stats(s), activity=farm_activity(s),
                        recent_builds=recent_builds(s), recent_runs=recent_trajectories(s))
