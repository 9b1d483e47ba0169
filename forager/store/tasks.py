"""Registry queries for tasks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page, where_equal
from forager.store.session import get_or_missing


def list_page(s: Session, limit: int, cursor: str | None, image: str | None = None, kind: str | None = None,
              family: str | None = None, status: str | None = None) -> tuple[list[db.Task], str | None]:
    """A page of tasks, newest first, optionally by image, kind, mutation family and status."""
    stmt = where_equal(select(db.Task), (db.Task.image_id, image), (db.Task.kind, kind),
                       (db.Task.family, family), (db.Task.status, status))
    return page(s, stmt, db.Task, limit, cursor)


def get(s: Session, task_id: str) -> db.Task:
    return get_or_missing(s, db.Task, task_id, "task")


def missing(s: Session, task_ids: Iterable[str]) -> list[str]:
    """The ids among ``task_ids`` that name no task, sorted."""
    wanted = set(task_ids)
    known = set(s.scalars(select(db.Task.id).where(db.Task.id.in_(wanted))).all())
    return sorted(wanted - known)


def list_tasks(limit: int, cursor: str | None, image: str | None = None, kind: str | None = None,
               family: str | None = None, status: str | None = None) -> tuple[list[db.Task], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, limit, cursor, image=image, kind=kind, family=family, status=status)


def find(task_id: str) -> db.Task:
    """The task ``task_id`` (detached); NotFound if there is none. Opens its own session."""
    with db.session() as s:
        return get(s, task_id)


def missing_ids(task_ids: Iterable[str]) -> list[str]:
    """``missing`` in a session of its own: the ids among ``task_ids`` that name no task, sorted."""
    with db.session() as s:
        return missing(s, task_ids)
