"""Registry queries for images (validated builds, by tag) and their test results."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forager.store import db
from forager.store.paging import page, where_equal
from forager.store.session import get_or_missing


def list_page(s: Session, limit: int, cursor: str | None, repository_id: str | None = None,
              status: str | None = None, python: str | None = None) -> tuple[list[db.Image], str | None]:
    """A page of images, newest first, optionally by repository, status and Python version."""
    stmt = where_equal(select(db.Image), (db.Image.repository_id, repository_id), (db.Image.status, status),
                       (db.Image.python, python))
    return page(s, stmt, db.Image, limit, cursor)


def get(s: Session, image_id: str) -> db.Image:
    """The image whose tag is ``image_id``; NotFound if there is none."""
    return get_or_missing(s, db.Image, image_id, "image")


def test_counts(s: Session, build_id: str) -> dict[str, int]:
    """How many of a build's tests ended in each outcome, and ``flaky``: how many were flaky."""
    counts = dict(s.execute(select(db.TestResult.outcome, func.count())
                            .where(db.TestResult.build_id == build_id)
                            .group_by(db.TestResult.outcome)).all())
    flaky = s.scalar(select(func.count()).where(db.TestResult.build_id == build_id,
                                                db.TestResult.flaky.is_(True)))
    return {**counts, "flaky": flaky or 0}


def list_images(limit: int, cursor: str | None, repository_id: str | None = None, status: str | None = None,
                python: str | None = None) -> tuple[list[db.Image], str | None]:
    """``list_page`` in a session of its own; the rows come back detached, their columns loaded."""
    with db.session() as s:
        return list_page(s, limit, cursor, repository_id=repository_id, status=status, python=python)


def find(image_id: str) -> db.Image:
    """The image tagged ``image_id`` (detached); NotFound if there is none. Opens its own session."""
    with db.session() as s:
        return get(s, image_id)


def detail(image_id: str) -> tuple[db.Image, dict[str, int]]:
    """The image tagged ``image_id`` (detached) and its build's ``test_counts``, read in one
    session; NotFound if there is no such image."""
    with db.session() as s:
        row = get(s, image_id)
        return row, test_counts(s, row.build_id)
