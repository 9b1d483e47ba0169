"""API tokens: prefixed random bearer tokens of which only a SHA-256 hash is stored.

A token looks like ``fgr_<8 hex prefix>_<43 url-safe characters>`` (256 random bits). The prefix
is stored in clear to find the row; the whole token is compared through its hash with
``secrets.compare_digest``. Scopes (``forager.enums.Scope``) are ordered: ``read`` < ``write`` <
``admin``; a token grants its own scope and every lower one. The clear token is shown once, at
creation. (Model keys are not API tokens: see ``forager.model.keys``.)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from forager.enums import Scope
from forager.errors import InvalidInput
from forager.store import db

SCOPES = tuple(Scope)
TOKEN_RE = re.compile(r"^fgr_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


@dataclass
class TokenInfo:
    id: str
    name: str
    scope: str
    prefix: str
    revoked: bool = False


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: db.ApiToken) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, scope=row.scope, prefix=row.prefix, revoked=row.revoked)


def allows(have: str, need: str) -> bool:
    """Whether a token of scope ``have`` may do what needs scope ``need``."""
    return have in SCOPES and Scope(have).allows(Scope(need))


def create(name: str, scope: str = Scope.READ) -> tuple[str, TokenInfo]:
    """Make a token; returns (the clear token, shown only now; its stored record)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a token needs a name of 1 to 200 characters")
    prefix = secrets.token_hex(4)
    token = f"fgr_{prefix}_{secrets.token_urlsafe(32)}"
    row = db.ApiToken(id=db.new_id("tok"), name=name, prefix=prefix, token_hash=_hash(token),
                      scope=Scope(scope).value, revoked=False)
    with db.session() as s:
        s.add(row)
    return token, _info(row)


def verify(token: str) -> TokenInfo | None:
    """The token's record if the token is well-formed, known and not revoked; otherwise None."""
    m = TOKEN_RE.match(token or "")
    if not m:
        return None
    digest = _hash(token)
    with db.session() as s:
        rows = s.scalars(select(db.ApiToken).where(db.ApiToken.prefix == m.group(1))).all()
    found = None
    for row in rows:  # compare every candidate, in constant time each
        if secrets.compare_digest(row.token_hash, digest) and not row.revoked:
            found = _info(row)
    return found


def list_tokens() -> list[TokenInfo]:
    with db.session() as s:
        rows = s.scalars(select(db.ApiToken).order_by(db.ApiToken.created_at)).all()
        return [_info(r) for r in rows]


def revoke(token_id: str) -> bool:
    """Revoke by record id; False if there is no such token."""
    with db.session() as s:
        row = s.get(db.ApiToken, token_id)
        if row is None:
            return False
        row.revoked = True
    return True
