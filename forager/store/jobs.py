"""Registry queries for jobs (listing; a job's life is ``forager.jobs``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page, where_equal


def list_page(s: Session, limit: int, cursor: str | None, kind: str | None = None,
              state: str | None = None) -> tuple[list[db.Job], str | None]:
    """A page of jobs, newest first, optionally of one kind and in one state."""
    stmt = where_equal(select(db.Job), (db.Job.kind, kind), (db.Job.state, state))
    return page(s, stmt, db.Job, limit, cursor)


def list_jobs(limit: int, cursor: str | None, kind: str | None = None,
              state: str | None = None) -> tuple[list[db.Job], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, limit, cursor, kind=kind, state=state)
