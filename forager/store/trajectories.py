"""Registry queries for trajectories: the index rows (the files themselves are
``forager.trajectory``'s), filtered and paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page


class Filters(BaseModel):
    """Which trajectories: each field given (not None) must match; ``since`` and ``until`` bound
    ``created_at`` (``since`` included, ``until`` not; aware times are taken as UTC). The API takes
    it as its query parameters."""

    task_id: str | None = None
    repository: str | None = None
    kind: str | None = None
    model: str | None = None
    agent: str | None = None
    resolved: bool | None = None
    complete: bool | None = None
    origin: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def selected(filters: Filters) -> Select[Any]:
    """The SELECT of the trajectories ``filters`` allow."""
    t = db.Trajectory
    stmt = select(t)
    f = filters
    for col, val in ((t.task_id, f.task_id), (t.repository, f.repository), (t.kind, f.kind),
                     (t.model, f.model), (t.agent, f.agent), (t.resolved, f.resolved),
                     (t.complete, f.complete), (t.origin, f.origin)):
        if val is not None:
            stmt = stmt.where(col == val)
    if f.since is not None:
        stmt = stmt.where(t.created_at >= _naive_utc(f.since))
    if f.until is not None:
        stmt = stmt.where(t.created_at < _naive_utc(f.until))
    return stmt


def list_page(s: Session, filters: Filters, limit: int,
              cursor: str | None) -> tuple[list[db.Trajectory], str | None]:
    """A page of trajectory rows, newest first."""
    return page(s, selected(filters), db.Trajectory, limit, cursor)


def iter_ids(filters: Filters, batch: int = 100) -> Iterator[str]:
    """Every id ``filters`` allow, newest first, read a page at a time (one short session per page,
    so a slow reader holds no transaction open)."""
    cursor: str | None = None
    while True:
        with db.session() as s:
            rows, cursor = list_page(s, filters, batch, cursor)
        yield from (row.id for row in rows)
        if cursor is None:
            return


def get(s: Session, traj_id: str) -> db.Trajectory | None:
    return s.get(db.Trajectory, traj_id)


def list_trajectories(filters: Filters, limit: int,
                      cursor: str | None) -> tuple[list[db.Trajectory], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, filters, limit, cursor)


def find(traj_id: str) -> db.Trajectory | None:
    """The trajectory row ``traj_id`` (detached), or None; opens its own session."""
    with db.session() as s:
        return get(s, traj_id)


def offset_page(filters: Filters, limit: int, offset: int) -> tuple[int, list[db.Trajectory]]:
    """How many trajectories ``filters`` allow, and ``limit`` of them from ``offset`` on, newest
    first (ties by id): the viewer's numbered pages. Rows come back detached."""
    stmt = selected(filters)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.scalars(stmt.order_by(db.Trajectory.created_at.desc(), db.Trajectory.id)
                         .limit(limit).offset(offset))
        return total, list(rows)
