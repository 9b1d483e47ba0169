"""Registry queries for repositories: list, look up, add once per source."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page, where_equal
from forager.store.session import get_or_missing


def list_page(s: Session, limit: int, cursor: str | None,
              kind: str | None = None) -> tuple[list[db.Repository], str | None]:
    """A page of repositories, newest first, optionally of one kind (git, local, pypi)."""
    return page(s, where_equal(select(db.Repository), (db.Repository.kind, kind)), db.Repository, limit, cursor)


def get(s: Session, repository_id: str) -> db.Repository:
    return get_or_missing(s, db.Repository, repository_id, "repository")


def by_source(s: Session, source: str) -> db.Repository | None:
    return s.scalars(select(db.Repository).where(db.Repository.source == source)).first()


def add(source: str, name: str, kind: str) -> tuple[db.Repository, bool]:
    """The repository of ``source``, added if new: ``(row, created)``. Opens its own sessions, so
    that a concurrent add of the same source (a unique-key clash) answers the row the other one made."""
    with db.session() as s:
        row = by_source(s, source)
    if row is not None:
        return row, False
    try:
        with db.session() as s:
            row = db.Repository(source=source, name=name[:200], kind=kind)
            s.add(row)
    except IntegrityError:
        with db.session() as s:
            existing = by_source(s, source)
        if existing is None:
            raise
        return existing, False
    return row, True


def list_repositories(limit: int, cursor: str | None,
                      kind: str | None = None) -> tuple[list[db.Repository], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, limit, cursor, kind=kind)


def find(repository_id: str) -> db.Repository:
    """The repository ``repository_id`` (detached); NotFound if there is none. Opens its own session."""
    with db.session() as s:
        return get(s, repository_id)
