"""API tokens: prefixed random bearer tokens of which only a SHA-256 hash is stored.

A token looks like ``fgr_<8 hex prefix>_<43 url-safe characters>`` (256 random bits). The prefix
is stored in clear to find the row; the whole token is compared through its hash with
``secrets.compare_digest``. Scopes are ordered: ``read`` < ``write`` < ``admin``; a token
grants its own scope and every lower one. The clear token is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from forager.store import db

SCOPES = ("read", "write", "admin")
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


def allows(have: str, need: str) -> bool:
    """Whether a token of scope ``have`` may do what needs scope ``need``."""
    return have in SCOPES and SCOPES.index(have) >= SCOPES.index(need)


def create(name: str, scope: str = "read") -> tuple[str, TokenInfo]:
    """Make a token; returns (the clear token, shown only now; its stored record)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a token needs a name of 1 to 200 characters")
    prefix = secrets.token_hex(4)
    token = f"fgr_{prefix}_{secrets.token_urlsafe(32)}"
    row = db.ApiToken(id=db.new_id("tok"), name=name, prefix=prefix, token_hash=_hash(token), scope=scope)
    with db.session() as s:
        s.add(row)
    return token, TokenInfo(id=row.id, name=name, scope=scope, prefix=prefix)


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
            found = TokenInfo(id=row.id, name=row.name, scope=row.scope, prefix=row.prefix)
    return found


def list_tokens() -> list[TokenInfo]:
    with db.session() as s:
        rows = s.scalars(select(db.ApiToken).order_by(db.ApiToken.created_at)).all()
        return [TokenInfo(id=r.id, name=r.name, scope=r.scope, prefix=r.prefix, revoked=r.revoked)
                for r in rows]


def revoke(token_id: str) -> bool:
    """Revoke by record id; False if there is no such token."""
    with db.session() as s:
        row = s.get(db.ApiToken, token_id)
        if row is None:
            return False
        row.revoked = True
    return True


# ----------------------------------------------------------------------------- callers' model keys
# A run may name a model endpoint of its own and bring that endpoint's key. The key is never
# stored (not in the jobs table, not in the queue): it is held here, in the memory of the process
# that runs the job (the embedded executor), for a day at most, and is lost on a restart.
_held: dict[str, tuple[str, float]] = {}
_held_lock = threading.Lock()
HOLD_S = 24 * 3600.0


def hold_model_key(job_id: str, key: str) -> None:
    """Keep a caller's model key for the job ``job_id`` (in memory only)."""
    now = time.monotonic()
    with _held_lock:
        for stale in [j for j, (_, until) in _held.items() if until < now]:
            del _held[stale]
        _held[job_id] = (key, now + HOLD_S)


def held_model_key(job_id: str) -> str | None:
    """The caller's model key held for ``job_id``, or None (never held, expired, or restarted)."""
    with _held_lock:
        entry = _held.get(job_id)
    return entry[0] if entry and entry[1] >= time.monotonic() else None


def is_trusted_model_url(url: str | None) -> bool:
    """Whether the server's own model key may go to ``url`` (None: the server's own endpoint)."""
    from forager.config import get_settings

    return url is None or url.strip().rstrip("/") in get_settings().trusted_model_endpoints()


def model_key_for(url: str | None, caller_key: str | None) -> str:
    """The key sent with model calls to ``url``: the caller's when given; else the server's own
    (FORAGER_MODEL_API_KEY) for a trusted endpoint only; else none (empty)."""
    from forager.config import get_settings

    if caller_key:
        return caller_key
    return get_settings().model_api_key if is_trusted_model_url(url) else ""
