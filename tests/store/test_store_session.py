"""Registry sessions: one farm id per registry, the schema at the newest migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from forager.config import reset_settings
from forager.store import db


def test_farm_id_is_one_per_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = db.farm_id()
    assert first == db.farm_id() and len(first) == 8
    monkeypatch.setenv("FORAGER_HOME", str(tmp_path / "other-farm"))
    reset_settings()
    assert db.farm_id() != first


def test_schema_is_the_models_after_upgrade() -> None:
    engine = db.engine()
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(db.Base.metadata.tables)
    for name, table in db.Base.metadata.tables.items():
        assert {c["name"] for c in inspect(engine).get_columns(name)} == set(table.columns.keys()), name
    assert "second_outcome" not in {c["name"] for c in inspect(engine).get_columns("test_results")}


def test_session_rolls_back_on_error() -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(db.Repository(source="x", name="x", kind="local"))
        raise RuntimeError("boom")
    with db.session() as s:
        assert s.query(db.Repository).count() == 0
