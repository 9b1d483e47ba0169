"""Registry queries for execution traces (``forager.traces``): storing a collection's traces,
listing them filtered and paged, fetching one, and iterating a selection for exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, select

from forager.store import db
from forager.store.paging import page, where_equal
from forager.store.session import get_detached


class TraceFilters(BaseModel):
    """Which traces: each field given must match (``repository`` and ``function`` exactly;
    ``status`` one of ``forager.enums.TraceStatus``). The API takes it as its query parameters."""

    image: str | None = None
    repository: str | None = None
    function: str | None = None
    status: str | None = None
    kind: str | None = None


def selected(f: TraceFilters) -> Select[Any]:
    t = db.ExecTrace
    return where_equal(select(t), (t.image_id, f.image), (t.repository, f.repository),
                       (t.function, f.function), (t.status, f.status), (t.kind, f.kind))


def add_traces(image_id: str, repository: str, seed: int, rows: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Store ``rows`` (``forager.traces.readout.to_row``) of one image; a row whose fingerprint the
    image already has is a reproduction and is not stored again. The new ids, and how many were
    already stored."""
    fingerprints = {str(r["fingerprint"]) for r in rows}
    ids: list[str] = []
    with db.session() as s:
        known = set(s.scalars(select(db.ExecTrace.fingerprint).where(
            db.ExecTrace.image_id == image_id, db.ExecTrace.fingerprint.in_(fingerprints))))
        for r in rows:
            if r["fingerprint"] in known:
                continue
            known.add(str(r["fingerprint"]))
            row = db.ExecTrace(image_id=image_id, repository=repository, seed=seed, **r)
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids, len(rows) - len(ids)


def list_traces(filters: TraceFilters, limit: int, cursor: str | None) -> tuple[list[db.ExecTrace], str | None]:
    """A page of traces, newest first; rows detached."""
    with db.session() as s:
        return page(s, selected(filters), db.ExecTrace, limit, cursor)


def find(trace_id: str) -> db.ExecTrace | None:
    """The trace ``trace_id`` (detached), or None."""
    return get_detached(db.ExecTrace, trace_id)


def iter_traces(filters: TraceFilters, batch: int = 200) -> Iterator[db.ExecTrace]:
    """Every trace ``filters`` allow, newest first, a page (one short session) at a time."""
    cursor: str | None = None
    while True:
        rows, cursor = list_traces(filters, batch, cursor)
        yield from rows
        if cursor is None:
            return
