"""Stored tasks out as JSON lines with the metadata training needs, filtered as the published
pipeline filtered its exports (kind, family, contamination, FAIL_TO_PASS count, size)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from forager.store import db


@dataclass
class ExportFilter:
    image: str | None = None
    kind: str | None = None
    family: str | None = None
    exclude_contaminated: bool = False
    min_fail_to_pass: int = 0
    max_lines: int | None = None
    ids: frozenset[str] | None = None
    """Only these tasks (``--tasks``, selected by ``store.tasks_query.select_tasks``)."""

    def keeps(self, task: db.Task) -> bool:
        meta = task.meta or {}
        if self.ids is not None and task.id not in self.ids:
            return False
        if self.image and not task.image_id.startswith(self.image):
            return False
        if self.kind and task.kind != self.kind:
            return False
        if self.family and task.family != self.family:
            return False
        if self.exclude_contaminated and meta.get("contaminated"):
            return False
        if len(task.fail_to_pass) < self.min_fail_to_pass:
            return False
        return self.max_lines is None or int(meta.get("lines_changed") or 0) <= self.max_lines


def task_record(task: db.Task) -> dict[str, Any]:
    meta = task.meta or {}
    return {"id": task.id, "image": task.image_id, "kind": task.kind, "family": task.family,
            "problem_statement": task.problem_statement, "setup_patch": task.setup_patch,
            "gold_patch": task.gold_patch, "test_patch": task.test_patch,
            "FAIL_TO_PASS": task.fail_to_pass, "PASS_TO_PASS": task.pass_to_pass,
            "lines_changed": meta.get("lines_changed"), "files_changed": meta.get("files_changed"),
            "fail_to_pass_count": len(task.fail_to_pass), "call_depth": meta.get("call_depth"),
            "contaminated": bool(meta.get("contaminated")), "evaluation_sets": meta.get("evaluation_sets", []),
            "meta": meta}


def iter_tasks(flt: ExportFilter) -> Iterator[db.Task]:
    """The stored tasks the filter keeps, oldest first, read in pages."""
    q = select(db.Task).order_by(db.Task.created_at, db.Task.id)
    if flt.image:
        q = q.where(db.Task.image_id.startswith(flt.image))
    if flt.kind:
        q = q.where(db.Task.kind == flt.kind)
    with db.session() as s:
        for task in s.scalars(q.execution_options(yield_per=200)):
            if flt.keeps(task):
                yield task


def export_tasks(out: str, flt: ExportFilter) -> int:
    """Write the kept tasks to ``out`` ('-': stdout); how many."""
    if out == "-":
        return _write(sys.stdout, flt)
    with Path(out).open("w") as fh:
        return _write(fh, flt)


def _write(fh: TextIO, flt: ExportFilter) -> int:
    n = 0
    for task in iter_tasks(flt):
        fh.write(json.dumps(task_record(task), default=str) + "\n")
        n += 1
    return n
