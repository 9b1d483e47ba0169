"""The job rows' reads and writes (``forager.jobs``): a row is created once, read whole, and changed
only by compare-and-set on ``state`` and ``attempts``, so two workers never both win a job."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from forager.store import db


def cas(job_id: str, state: str, attempts: int, /, **values: Any) -> bool:
    """Set ``values`` only if the job is still in ``state`` at ``attempts``; True when it was."""
    with db.session() as s:
        res = s.execute(
            update(db.Job)
            .where(db.Job.id == job_id, db.Job.state == state, db.Job.attempts == attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(res, "rowcount", 0) == 1)


def get_job(job_id: str) -> db.Job | None:
    """The job row (detached), or None."""
    with db.session() as s:
        return s.get(db.Job, job_id)


def insert_job(job_id: str, kind: str, params: dict[str, Any], state: str) -> db.Job:
    """Insert a new job row with an empty result; the row stays readable after the session.
    ``IntegrityError`` when the id is already taken (the caller reads the existing row)."""
    with db.session() as s:
        row = db.Job(id=job_id, kind=kind, params=params, state=state, result={})
        s.add(row)
    return row


def jobs_in(states: Iterable[str], created_before: datetime | None = None) -> list[db.Job]:
    """The job rows (detached) in one of ``states``, created at or before ``created_before`` when given."""
    stmt = select(db.Job).where(db.Job.state.in_(tuple(states)))
    if created_before is not None:
        stmt = stmt.where(db.Job.created_at <= created_before)
    with db.session() as s:
        return list(s.scalars(stmt).all())
