"""What sessions (``forager.sessions``) read and write: the session rows and their recorded turns.

The row is the session's whole state. Each change that two API processes could race on is one
conditional UPDATE (compare-and-set): claiming the session for one action, releasing it, ending it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, func, insert, or_, select, update

from forager.clock import utcnow
from forager.enums import SessionState
from forager.errors import NotFound
from forager.store import db

ACTIVE = SessionState.ACTIVE.value


@dataclass
class SessionRow:
    """A session row, detached from the database session that read it."""

    id: str
    token_id: str
    task_id: str
    trajectory_id: str
    state: str
    container: str
    user: str
    test_command: str
    model: str | None
    meta: dict[str, Any]
    steps: int
    max_actions: int
    action_timeout_s: int
    busy_until: datetime | None
    shell_owner: str | None
    reward: dict[str, Any] | None
    end_reason: str | None
    created_at: datetime
    last_active_at: datetime
    ended_at: datetime | None


def _detached(row: db.AgentSession) -> SessionRow:
    return SessionRow(**{name: getattr(row, name) for name in SessionRow.__dataclass_fields__})


def add(row: db.AgentSession) -> None:
    with db.session() as s:
        s.add(row)


def get(session_id: str, token_id: str | None = None) -> SessionRow:
    """The session; ``NotFound`` when there is none, or when ``token_id`` is given and is not its
    owner's (another token's session does not exist for the caller)."""
    with db.session() as s:
        row = s.get(db.AgentSession, session_id)
        if row is None or (token_id is not None and row.token_id != token_id):
            raise NotFound(f"no session {session_id!r}")
        return _detached(row)


def count_active(token_id: str | None = None) -> int:
    """Active sessions on the farm, or of one token."""
    with db.session() as s:
        q = select(func.count()).select_from(db.AgentSession).where(db.AgentSession.state == ACTIVE)
        if token_id is not None:
            q = q.where(db.AgentSession.token_id == token_id)
        return int(s.scalar(q) or 0)


def active() -> list[SessionRow]:
    with db.session() as s:
        rows = s.scalars(select(db.AgentSession).where(db.AgentSession.state == ACTIVE))
        return [_detached(r) for r in rows]


def ids_with_state(ids: list[str]) -> dict[str, str]:
    """Session id -> state for those of ``ids`` that exist."""
    with db.session() as s:
        q = select(db.AgentSession.id, db.AgentSession.state).where(db.AgentSession.id.in_(ids))
        return {i: st for i, st in s.execute(q)}


def _claim_statement(session_id: str, token_id: str, hold_s: float, owner: str, previous_owner: str | None,
                     step: bool) -> Update:
    """The conditional UPDATE of a claim: an active session of this token, not busy, with actions
    left (for an action), whose last shell was ``previous_owner``'s; it becomes ``owner``'s, busy
    until ``hold_s`` from now."""
    now = utcnow()
    t = db.AgentSession
    q = update(t).where(t.id == session_id, t.token_id == token_id, t.state == ACTIVE,
                        or_(t.busy_until.is_(None), t.busy_until < now))
    q = q.where(t.shell_owner.is_(None) if previous_owner is None else t.shell_owner == previous_owner)
    if step:
        q = q.where(t.steps < t.max_actions)
    return q.values(busy_until=now + timedelta(seconds=hold_s), last_active_at=now, shell_owner=owner)


def claim(session_id: str, token_id: str, hold_s: float, owner: str, previous_owner: str | None,
          step: bool = True) -> bool:
    """Take the session for one action (``step``) or the submit until ``hold_s`` from now: only an
    active session of this token, not busy, with actions left (for an action), whose last shell
    was ``previous_owner``'s (so the caller knows whether its own shell is current). False when
    any of that does not hold."""
    q = _claim_statement(session_id, token_id, hold_s, owner, previous_owner, step)
    with db.session() as s:
        res = s.execute(q.execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)


def claim_own(session_id: str, token_id: str, hold_s: float, owner: str, step: bool = True) -> SessionRow | None:
    """``claim`` in one statement for the process whose shell served the session's last action
    (``shell_owner`` is ``owner``): the claimed row as it now is, or None when any condition does
    not hold (the caller then reads the row and claims it the ordinary way). Core, not the ORM: it
    runs once per action."""
    t = db.AgentSession
    q = _claim_statement(session_id, token_id, hold_s, owner, owner, step).returning(
        *(getattr(t, name) for name in SessionRow.__dataclass_fields__))
    with db.engine().begin() as conn:
        found = conn.execute(q).one_or_none()
    return SessionRow(**found._asdict()) if found is not None else None


def set_started(session_id: str, container: str, user: str, test_command: str, owner: str) -> None:
    """Record the started container of a session (its shell is ``owner``'s)."""
    t = db.AgentSession
    with db.session() as s:
        s.execute(update(t).where(t.id == session_id)
                  .values(container=container, user=user, test_command=test_command, shell_owner=owner,
                          last_active_at=utcnow())
                  .execution_options(synchronize_session=False))


def delete(session_id: str) -> None:
    """Remove a session row that never started (refused over a limit)."""
    with db.session() as s:
        row = s.get(db.AgentSession, session_id)
        if row is not None:
            s.delete(row)


def record_turn(session_id: str, index: int, turn: dict[str, Any]) -> None:
    """Store one turn and release the session (its step count advanced), in one transaction
    (Core, not the ORM: it runs once per action)."""
    now = utcnow()
    t = db.AgentSession
    with db.engine().begin() as conn:
        conn.execute(insert(db.SessionTurn).values(session_id=session_id, index=index, turn=turn))
        conn.execute(update(t).where(t.id == session_id)
                     .values(steps=t.steps + 1, busy_until=None, last_active_at=now))


def release(session_id: str) -> None:
    t = db.AgentSession
    with db.session() as s:
        s.execute(update(t).where(t.id == session_id).values(busy_until=None, last_active_at=utcnow())
                  .execution_options(synchronize_session=False))


def turns(session_id: str) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(db.SessionTurn.turn).where(db.SessionTurn.session_id == session_id) \
            .order_by(db.SessionTurn.index, db.SessionTurn.id)
        return [dict(t) for t in s.scalars(q)]


def end(session_id: str, state: SessionState, reason: str, *, reward: dict[str, Any] | None = None,
        held: bool = False, idle_before: datetime | None = None) -> bool:
    """Move an active session to ``state`` (compare-and-set): True for the one caller that did.
    ``held``: the caller holds the claim (a submit); otherwise a busy session is not ended unless
    its claim lapsed. ``idle_before``: only if it was last active before then (the reaper)."""
    now = utcnow()
    t = db.AgentSession
    q = update(t).where(t.id == session_id, t.state == ACTIVE)
    if not held:
        q = q.where(or_(t.busy_until.is_(None), t.busy_until < now))
    if idle_before is not None:
        q = q.where(t.last_active_at < idle_before)
    with db.session() as s:
        res = s.execute(q.values(state=state.value, end_reason=reason[:2000], ended_at=now, busy_until=None,
                                 reward=reward).execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)
