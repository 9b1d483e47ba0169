"""Task ids by a filter string (``forager run --tasks``, the benchmarks): the query in one place."""

from __future__ import annotations

from sqlalchemy import select

from forager.enums import TaskStatus
from forager.errors import InvalidInput
from forager.store import db

FILTER_KEYS = ("kind", "repo", "image", "status", "limit")


def parse_task_filter(spec: str) -> dict[str, str]:
    """``all``, or comma-separated ``key=value`` terms with keys from ``FILTER_KEYS``."""
    terms: dict[str, str] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part == "all":
            continue
        key, eq, value = part.partition("=")
        if not eq or key not in FILTER_KEYS:
            raise InvalidInput(f"bad task filter term {part!r}; use kind=, repo=, image=, status=, limit=")
        terms[key] = value
    return terms


def select_tasks(spec: str) -> list[str]:
    """Task ids matching a filter: ``all``, or comma-separated ``kind=``, ``repo=`` (substring of
    the image source), ``image=``, ``status=`` (default validated), ``limit=`` terms; oldest first."""
    terms = parse_task_filter(spec)
    with db.session() as s:
        q = select(db.Task.id).join(db.Image, db.Image.id == db.Task.image_id)
        q = q.where(db.Task.status == terms.get("status", TaskStatus.VALIDATED))
        if "kind" in terms:
            q = q.where(db.Task.kind == terms["kind"])
        if "image" in terms:
            q = q.where(db.Task.image_id == terms["image"])
        if "repo" in terms:
            q = q.where(db.Image.source.contains(terms["repo"]))
        q = q.order_by(db.Task.created_at, db.Task.id)
        if "limit" in terms:
            q = q.limit(int(terms["limit"]))
        return list(s.scalars(q))
