"""Cursor pagination: every row once, newest first; a cursor no page answered is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forager.errors import InvalidInput
from forager.store import db, repositories
from forager.store.paging import BadCursor, decode_cursor, page


def test_pages_cover_every_row_once_newest_first() -> None:
    for i in range(5):
        repositories.add(f"https://example.org/r{i}.git", f"r{i}", "git")
    seen, cursor = [], None
    while True:
        with db.session() as s:
            rows, cursor = page(s, select(db.Repository), db.Repository, 2, cursor)
        assert len(rows) <= 2
        seen += rows
        if cursor is None:
            break
    assert len({r.id for r in seen}) == 5
    keys = [(r.created_at, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize("cursor", ["!!bad", "bm90IGpzb24", "WzFd", "WyJub3QgYSB0aW1lIiwgIngiXQ"])
def test_a_foreign_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(BadCursor, match="invalid cursor") as caught:
        decode_cursor(cursor)
    assert isinstance(caught.value, InvalidInput)


def test_adding_a_known_source_answers_the_existing_row() -> None:
    first, created = repositories.add("pypi:attrs", "attrs", "pypi")
    again, created_again = repositories.add("pypi:attrs", "attrs", "pypi")
    assert created and not created_again and again.id == first.id
