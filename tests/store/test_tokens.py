"""API tokens: prefixed, random, stored only as a hash, scoped, revocable."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from forager.cli.main import app
from forager.store import db, tokens


def test_token_is_prefixed_random_and_only_its_hash_is_stored() -> None:
    token, info = tokens.create("ci", "write")
    assert tokens.TOKEN_RE.match(token)
    assert token.startswith(f"fgr_{info.prefix}_")
    with db.session() as s:
        row = s.scalars(select(db.ApiToken)).one()
        stored = [str(v) for v in (row.id, row.name, row.prefix, row.token_hash, row.scope)]
    assert token not in " ".join(stored)
    assert token.split("_", 2)[2] not in " ".join(stored)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    other, _ = tokens.create("ci", "write")
    assert other != token


def test_verify_accepts_the_token_and_refuses_near_misses() -> None:
    token, info = tokens.create("alice", "read")
    assert tokens.verify(token) == info
    secret = token.split("_", 2)[2]
    wrong = token[:-1] + ("A" if secret[-1] != "A" else "B")
    assert tokens.verify(wrong) is None  # right prefix, wrong secret
    for bad in ("", "Bearer " + token, token + "x", "fgr_zzzzzzzz_" + secret, token.upper()):
        assert tokens.verify(bad) is None


def test_revoked_token_no_longer_verifies() -> None:
    token, info = tokens.create("bob", "admin")
    assert tokens.revoke(info.id)
    assert tokens.verify(token) is None
    assert not tokens.revoke("tok-missing")
    assert [t.revoked for t in tokens.list_tokens()] == [True]


def test_scopes_are_ordered() -> None:
    assert tokens.allows("admin", "write") and tokens.allows("admin", "read")
    assert tokens.allows("write", "read") and tokens.allows("write", "write")
    assert not tokens.allows("read", "write") and not tokens.allows("write", "admin")
    assert not tokens.allows("root", "read")


def test_bad_scope_or_name_is_refused() -> None:
    with pytest.raises(ValueError, match="scope"):
        tokens.create("x", "superuser")
    with pytest.raises(ValueError, match="name"):
        tokens.create("   ", "read")


def test_cli_prints_the_token_once_on_its_last_line() -> None:
    result = CliRunner().invoke(app, ["tokens", "create", "deploy-bot", "--scope", "write"])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    info = tokens.verify(last)
    assert info is not None and info.scope == "write" and info.name == "deploy-bot"
    bad = CliRunner().invoke(app, ["tokens", "create", "x", "--scope", "god"])
    assert bad.exit_code == 2
