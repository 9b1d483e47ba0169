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


def test_claim_own_claims_only_the_shell_owners_free_active_session() -> None:
    """The one-statement claim of the process whose shell served the last action: it answers the
    row as claimed, and nothing (the caller then claims the ordinary way) whenever the session is
    another process's, busy, ended, another token's or out of actions."""
    from forager.enums import SessionState
    from forager.store import sessions as stored

    stored.add(db.AgentSession(id="sess-own", token_id="tok-a", task_id="t", trajectory_id="traj",
                               state=SessionState.ACTIVE, steps=0, max_actions=2, action_timeout_s=5,
                               shell_owner="me"))
    assert stored.claim_own("sess-own", "tok-a", 30, "other") is None  # another process's shell
    assert stored.claim_own("sess-own", "tok-b", 30, "me") is None  # another token's session
    row = stored.claim_own("sess-own", "tok-a", 30, "me")
    assert row is not None and row.id == "sess-own" and row.busy_until is not None and row.shell_owner == "me"
    assert stored.claim_own("sess-own", "tok-a", 30, "me") is None  # busy with that action
    stored.record_turn("sess-own", 0, {"index": 0})
    stored.record_turn("sess-own", 1, {"index": 1})  # two actions taken: the budget is spent
    assert stored.claim_own("sess-own", "tok-a", 30, "me") is None
    claimed = stored.claim_own("sess-own", "tok-a", 30, "me", step=False)  # the submit may still claim it
    assert claimed is not None and claimed.steps == 2
    stored.release("sess-own")
    assert stored.end("sess-own", SessionState.EXPIRED, "idle")
    assert stored.claim_own("sess-own", "tok-a", 30, "me", step=False) is None  # ended
