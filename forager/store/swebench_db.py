"""The registry reads and writes of SWE-bench export and import: tasks beside their images, the
validated images an imported row may use, and storing an imported task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from forager.enums import BuildStatus
from forager.store import db


def tasks_with_images(task_ids: list[str]) -> list[tuple[db.Task, db.Image]]:
    """The tasks (in the order given) beside their images, detached."""
    with db.session() as s:
        rows = s.execute(select(db.Task, db.Image).join(db.Image, db.Image.id == db.Task.image_id)
                         .where(db.Task.id.in_(task_ids))).all()
        s.expunge_all()
        by_id = {task.id: (task, image) for task, image in rows}
        return [by_id[t] for t in task_ids if t in by_id]


def validated_images() -> list[db.Image]:
    """Every validated image, newest first, detached."""
    with db.session() as s:
        rows = list(s.scalars(select(db.Image).where(db.Image.status == BuildStatus.VALIDATED)
                              .order_by(db.Image.created_at.desc())))
        s.expunge_all()
        return rows


def task_contents(image: str) -> list[tuple[str, str, str, list[str], list[str]]]:
    """(id, setup patch, gold patch, FAIL_TO_PASS, PASS_TO_PASS) of every task stored for ``image``."""
    with db.session() as s:
        rows = s.execute(select(db.Task.id, db.Task.setup_patch, db.Task.gold_patch, db.Task.fail_to_pass,
                                db.Task.pass_to_pass).where(db.Task.image_id == image)).all()
        return [(r[0], r[1], r[2], list(r[3]), list(r[4])) for r in rows]


def store_task(image: str, fields: dict[str, Any]) -> str:
    """Store a validated task of ``image``; its id."""
    with db.session() as s:
        task = db.Task(image_id=image, **fields)
        s.add(task)
        s.flush()
        return task.id
