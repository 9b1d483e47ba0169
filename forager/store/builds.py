"""Registry queries for builds and their log lines."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page, where_equal


def list_page(s: Session, limit: int, cursor: str | None, status: str | None = None,
              repository_id: str | None = None) -> tuple[list[db.Build], str | None]:
    """A page of builds, newest first, optionally by status and repository."""
    stmt = where_equal(select(db.Build), (db.Build.status, status), (db.Build.repository_id, repository_id))
    return page(s, stmt, db.Build, limit, cursor)


def get(s: Session, build_id: str) -> db.Build | None:
    return s.get(db.Build, build_id)


def logs(s: Session, build_id: str, after: int = 0, limit: int = 200) -> list[db.BuildLog]:
    """A build's log lines with an id above ``after``, oldest first, at most ``limit``."""
    stmt = select(db.BuildLog).where(db.BuildLog.build_id == build_id, db.BuildLog.id > after)
    return list(s.scalars(stmt.order_by(db.BuildLog.id).limit(limit)).all())


def list_builds(limit: int, cursor: str | None, status: str | None = None,
                repository_id: str | None = None) -> tuple[list[db.Build], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, limit, cursor, status=status, repository_id=repository_id)


def find(build_id: str) -> db.Build | None:
    """The build ``build_id`` (detached), or None; opens its own session."""
    with db.session() as s:
        return get(s, build_id)


def log_lines(build_id: str, after: int = 0, limit: int = 200) -> list[db.BuildLog]:
    """``logs`` in a session of its own (detached rows)."""
    with db.session() as s:
        return logs(s, build_id, after, limit)
