"""One action of a session (``act``) and its submit (``submit``).

An action claims the session's row (one action at a time, across every API process), runs the tool
in the session's container through the episode's own tools (``forager.episode.tools``: bad calls
become error observations), records the turn, and releases the row. A container found dead ends the
session ``failed``; the caller is told so (``SessionEnded``), never left waiting."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from forager.clock import utcnow
from forager.config import Settings, get_settings
from forager.enums import SessionState
from forager.episode.environment import Environment
from forager.errors import EngineError, SandboxError
from forager.runtime.shell import SHELL_GRACE_S, Observation
from forager.sessions import recorder
from forager.sessions.attach import SHELL_OWNER, SHELLS
from forager.sessions.limits import ActionsSpent, SessionBusy, SessionEnded, SessionUnavailable
from forager.sessions.manager import SUBMIT_HOLD_S, close, container_gone, fail
from forager.store import sessions as stored
from forager.trajectory.schema import Action, Reward

CLAIM_TRIES = 3


@dataclass
class ActionResult:
    step: int
    observation: str
    exit_code: int | None
    duration_s: float
    timed_out: bool
    state: str
    reward: Reward | None = None


def _claim(session_id: str, token_id: str, hold_s: float, step: bool) -> stored.SessionRow:
    """The session's row, claimed by this process; the reason it cannot be, as an error. When this
    process's shell served the last action, one conditional UPDATE claims and reads it."""
    if SHELLS.has(session_id):
        row = stored.claim_own(session_id, token_id, hold_s, SHELL_OWNER, step)
        if row is not None:
            return row
    for _ in range(CLAIM_TRIES):
        row = stored.get(session_id, token_id)
        if row.state != SessionState.ACTIVE:
            raise SessionEnded(f"session {session_id} is {row.state}: {row.end_reason or ''}".rstrip(": "))
        if step and row.steps >= row.max_actions:
            raise ActionsSpent(f"session {session_id} has taken all its {row.max_actions} actions; submit or end it")
        if stored.claim(session_id, token_id, hold_s, SHELL_OWNER, row.shell_owner, step):
            return row
        now = utcnow()
        if row.busy_until is not None and row.busy_until >= now:
            raise SessionBusy(f"another action of session {session_id} is running", retry_after=1)
    raise SessionBusy(f"session {session_id} is in use by another caller", retry_after=1)


def _environment(row: stored.SessionRow, settings: Settings) -> Environment:
    """The session's environment; a container found gone ends the session ``failed``, a container
    that is there but would not start a shell is a 503 (the session stays, the action may be retried)."""
    try:
        return SHELLS.environment(row, settings)
    except (SandboxError, EngineError) as exc:
        why = container_gone(row)
        if why:
            fail(row, f"the session's container is gone: {why} ({exc})")
            raise SessionEnded(f"session {row.id} failed: its container is gone") from exc
        stored.release(row.id)
        raise SessionUnavailable(f"session {row.id}: the container did not answer ({exc}); retry",
                                 retry_after=2) from exc


def act(session_id: str, token_id: str, tool: str, arguments: dict[str, Any],
        settings: Settings | None = None) -> ActionResult:
    """Run one tool call in the session; a ``submit`` call is the submit (``submit``)."""
    settings = settings or get_settings()
    row = _claim(session_id, token_id, hold_s(settings), step=True)
    try:
        env = _environment(row, settings)
        action = Action(tool=tool, args=arguments)
        started = utcnow()
        obs = _run(env, row, action)
    except BaseException:
        stored.release(session_id)
        raise
    recorder.record(session_id, recorder.make_turn(row.steps, action, obs, started))
    if tool == "submit":
        judged = submit(session_id, token_id, settings)
        return ActionResult(row.steps, obs.output, obs.exit_code, obs.duration_s, False, judged.state, judged.reward)
    return ActionResult(row.steps, obs.output, obs.exit_code, round(obs.duration_s, 4), obs.timed_out,
                        SessionState.ACTIVE.value)


def hold_s(settings: Settings) -> float:
    """How long an action may hold the session: the longest action and the shell's own backstops
    (a process that died holding it keeps it no longer)."""
    return settings.session_action_timeout_s + 5 + SHELL_GRACE_S + 30


def _run(env: Environment, row: stored.SessionRow, action: Action) -> Observation:
    """The tool call; a container that died under it ends the session (``SessionEnded``)."""
    try:
        obs = env.execute(action)
    except (SandboxError, EngineError) as exc:
        SHELLS.drop(row.id)
        why = container_gone(row)
        if not why:  # the shell could not be restarted now: nothing ran, retry
            stored.release(row.id)
            raise SessionUnavailable(f"session {row.id}: the container did not answer ({exc}); retry",
                                     retry_after=2) from exc
        fail(row, f"the session's container died: {why} ({exc})")
        raise SessionEnded(f"session {row.id} failed: its container died") from exc
    why = container_gone(row) if obs.exit_code is None else ""
    if why:
        fail(row, f"the session's container died during an action: {why}")
        raise SessionEnded(f"session {row.id} failed: its container died during the action")
    return obs


def submit(session_id: str, token_id: str, settings: Settings | None = None) -> ActionResult:
    """Judge the session's work exactly as an episode's (``forager.episode.reward.judge``: a fresh
    container, test files restored, flags), end it ``submitted`` and write its trajectory."""
    from forager.episode.reward import judge
    from forager.episode.spec import task_spec

    settings = settings or get_settings()
    row = _claim(session_id, token_id, SUBMIT_HOLD_S, step=False)
    started = time.monotonic()
    try:
        env = _environment(row, settings)
        why = container_gone(row)
        if why:
            raise SandboxError(why)
        judged = judge(env, task_spec(row.task_id))
    except SessionEnded:
        raise
    except (SandboxError, EngineError) as exc:
        fail(row, f"the reward could not be judged: {exc}")
        raise SessionEnded(f"session {session_id} failed: the reward could not be judged ({exc})") from exc
    except BaseException:
        stored.release(session_id)
        raise
    close(row, SessionState.SUBMITTED, "submitted", held=True, diff=judged.diff, reward=judged.reward)
    return ActionResult(row.steps, "submitted", 0, round(time.monotonic() - started, 3), False,
                        SessionState.SUBMITTED.value, judged.reward)
