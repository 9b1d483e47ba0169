"""Cursor pagination for the registry's lists: newest first, by ``(created_at, id)``.

A cursor is opaque to callers: the url-safe base64 of the last row's ``[created_at, id]``. Each page
answers the cursor of its next page, or None on the last one.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from forager.errors import InvalidInput


class BadCursor(InvalidInput):
    """A cursor that no page answered."""


def encode_cursor(row: Any) -> str:
    raw = json.dumps([row.created_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor points after; BadCursor when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, row_id = json.loads(raw)
        return datetime.fromisoformat(ts), str(row_id)
    except (binascii.Error, ValueError, TypeError) as exc:  # bad base64, JSON, shape or timestamp
        raise BadCursor("invalid cursor (use next_cursor from the previous page)") from exc


def page(s: Session, stmt: Select[Any], model: Any, limit: int,
         cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s rows of ``model`` (a table with ``created_at`` and ``id``), newest
    first, after ``cursor``; and the cursor of the next page (None on the last)."""
    if cursor:
        ts, row_id = decode_cursor(cursor)
        stmt = stmt.where(or_(model.created_at < ts, and_(model.created_at == ts, model.id < row_id)))
    stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list(s.scalars(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def where_equal(stmt: Select[Any], *pairs: tuple[Any, Any]) -> Select[Any]:
    """``stmt`` filtered by ``column == value`` for each pair whose value is given (not None or empty)."""
    for column, value in pairs:
        if value:
            stmt = stmt.where(column == value)
    return stmt
