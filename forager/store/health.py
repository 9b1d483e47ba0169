"""Whether the registry answers: the health check's one query."""

from __future__ import annotations

from sqlalchemy import text

from forager.store import db


def ping() -> None:
    """Run ``SELECT 1`` on the registry; raises whatever reaching it raises."""
    with db.session() as s:
        s.execute(text("SELECT 1"))
