"""The registry reads and writes of task generation and of ``forager tasks list|show``: the image a
batch starts from, its recorded test results, known fingerprints, stored tasks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from forager.store import db
from forager.store.session import get_detached


def find_image(image: str) -> db.Image | None:
    """The image with id ``image``, else the only one whose id starts with it (detached), else None."""
    with db.session() as s:
        img = s.get(db.Image, image)
        if img is None:
            matches = s.scalars(select(db.Image).where(db.Image.id.startswith(image))).all()
            img = matches[0] if len(matches) == 1 else None
        if img is not None:
            s.expunge(img)
        return img


def validation_results(build_id: str | None) -> tuple[list[str], dict[str, float]]:
    """A build's validation results: the tests that passed (flaky ones left out), sorted, and every
    test's duration."""
    with db.session() as s:
        rows = s.scalars(select(db.TestResult).where(db.TestResult.build_id == build_id)).all()
        passed = sorted({r.test_id for r in rows if r.outcome == "passed" and not r.flaky})
        return passed, {r.test_id: r.duration_s for r in rows}


def known_fingerprints(image: str) -> set[str]:
    """Fingerprints of the setup patches of every task stored for ``image``."""
    with db.session() as s:
        return set(s.scalars(select(db.Task.fingerprint).where(db.Task.image_id == image)).all())


def add_task(image: str, fields: dict[str, Any]) -> db.Task:
    """Store a validated task of ``image``; the row (id filled in) stays readable after the session."""
    with db.session() as s:
        task = db.Task(image_id=image, **fields)
        s.add(task)
    return task


def list_tasks(image: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Stored tasks, newest first, as the rows ``forager tasks list`` prints."""
    with db.session() as s:
        q = select(db.Task).order_by(db.Task.created_at.desc())
        if image:
            q = q.where(db.Task.image_id == image)
        if kind:
            q = q.where(db.Task.kind == kind)
        return [{"id": t.id, "image": t.image_id, "kind": t.kind, "family": t.family, "status": t.status,
                 "fail_to_pass": len(t.fail_to_pass), "pass_to_pass": len(t.pass_to_pass),
                 "description": (t.meta or {}).get("description", ""),
                 "created_at": t.created_at.isoformat()} for t in s.scalars(q).all()]


def get_task(task_id: str) -> db.Task | None:
    """A stored task (detached), or None."""
    return get_detached(db.Task, task_id)
