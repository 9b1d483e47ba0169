"""A session's life: opened (limits checked, trajectory stored, container started at the task
state), shown, submitted (the reward judged exactly as an episode's), ended by its client, expired or
failed. Every end goes through ``close``: one caller wins the row's compare-and-set, removes the
container and writes the trajectory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from forager.config import Settings, get_settings
from forager.enums import SessionState
from forager.episode.environment import Environment
from forager.episode.spec import TaskSpec, setup_task, task_spec
from forager.errors import EngineError, SandboxError
from forager.runtime import Runtime, get_runtime
from forager.sessions import recorder
from forager.sessions.attach import (
    SHELL_OWNER,
    SHELL_TRIES,
    SHELLS,
    attach,
    session_settings,
    start_container,
)
from forager.sessions.limits import (
    Budgets,
    SessionBusy,
    SessionEnded,
    SessionLimits,
    SessionUnavailable,
    TooManySessions,
    limits_for,
    retry_after,
)
from forager.store import db
from forager.store import sessions as stored
from forager.trajectory.schema import Reward

log = logging.getLogger(__name__)
SUBMIT_HOLD_S = 3600.0
"""How long a submit holds the session (the reward's test run has its own timeouts)."""


@dataclass
class Opened:
    row: stored.SessionRow
    spec: TaskSpec
    limits: SessionLimits
    extra: dict[str, Any] = field(default_factory=dict)


def _check_room(session_id: str, token_id: str, settings: Settings) -> None:
    """Refuse (429, the row removed again) when this new session is one too many. The row is
    counted after it is inserted, so two requests racing for the last place cannot both win."""
    per_token, total = stored.count_active(token_id), stored.count_active()
    over = ("this token" if per_token > settings.session_max_per_token
            else "the farm" if total > settings.session_max_total else "")
    if over:
        stored.delete(session_id)
        limit = settings.session_max_per_token if over == "this token" else settings.session_max_total
        raise TooManySessions(f"too many active sessions for {over} (at most {limit}); end one or retry later",
                              retry_after(settings))


def open_session(task_id: str, token_id: str, *, model: str | None = None, meta: dict[str, Any] | None = None,
                 budgets: Budgets | None = None, settings: Settings | None = None,
                 runtime: Runtime | None = None) -> Opened:
    """Open a session on a task (``NotFound`` for an unknown task, ``TooManySessions`` over a limit,
    ``SessionUnavailable`` when its sandbox will not start)."""
    settings = settings or get_settings()
    spec = task_spec(task_id)
    limits = limits_for(settings, budgets)
    session_id, traj_id = db.new_id("sess"), db.new_id("traj")
    stored.add(db.AgentSession(id=session_id, token_id=token_id, task_id=spec.id, trajectory_id=traj_id,
                               state=SessionState.ACTIVE, container="", user="root", test_command="",
                               model=model, meta=meta or {}, steps=0, max_actions=limits.max_actions,
                               action_timeout_s=limits.action_timeout_s))
    _check_room(session_id, token_id, settings)
    recorder.new_trajectory(traj_id, session_id, spec, model, meta or {}, limits)
    try:
        env = _start(session_id, spec, settings, runtime, limits.action_timeout_s)
    except Exception as exc:
        row = stored.get(session_id)
        if stored.end(session_id, SessionState.FAILED, f"the sandbox did not start: {exc}", held=True):
            recorder.finish(row, SessionState.FAILED, f"the sandbox did not start: {exc}")
        if isinstance(exc, SandboxError | EngineError):
            raise SessionUnavailable(f"the session's sandbox did not start: {exc}") from exc
        raise
    stored.set_started(session_id, env.sandbox.name, env.user, env.test_command, SHELL_OWNER)
    SHELLS.put(session_id, env)
    return Opened(stored.get(session_id), spec, limits)


def _start(session_id: str, spec: TaskSpec, settings: Settings, runtime: Runtime | None,
           action_timeout_s: int) -> Environment:
    box = start_container(spec.image, session_id, db.farm_id(), settings, runtime)
    try:
        for attempt in range(SHELL_TRIES):
            try:
                env = Environment(box, settings=session_settings(settings, action_timeout_s), runtime=runtime)
                break
            except SandboxError:  # the engine may refuse an exec now and then under load
                if attempt == SHELL_TRIES - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        setup_task(env, spec)
        return env
    except BaseException:
        box.remove()
        raise


def show(session_id: str, token_id: str) -> stored.SessionRow:
    return stored.get(session_id, token_id)


def close(row: stored.SessionRow, state: SessionState, reason: str, *, held: bool = False,
          idle_before: Any = None, diff: str = "", reward: Reward | None = None) -> bool:
    """End an active session (compare-and-set): the winner removes its container and writes its
    trajectory. False when it was not active (or busy, unless ``held``)."""
    reward_json = reward.model_dump(mode="json") if reward is not None else None
    if not stored.end(row.id, state, reason, reward=reward_json, held=held, idle_before=idle_before):
        return False
    SHELLS.drop(row.id)
    try:
        if row.container:
            get_runtime().remove_container(row.container)
    except EngineError as exc:  # the sweep of orphans removes it later
        log.warning("could not remove the container of session %s: %s", row.id, exc)
    recorder.finish(row, state, reason, diff=diff, reward=reward)
    return True


def end_by_client(session_id: str, token_id: str) -> stored.SessionRow:
    """DELETE: end the session; the trajectory is kept, marked ``ended_by_client``."""
    row = stored.get(session_id, token_id)
    if row.state != SessionState.ACTIVE:
        raise SessionEnded(f"session {session_id} is already {row.state}")
    if not close(row, SessionState.ENDED, "ended by its client"):
        current = stored.get(session_id)
        if current.state != SessionState.ACTIVE:
            raise SessionEnded(f"session {session_id} is already {current.state}")
        raise SessionBusy(f"an action of session {session_id} is running; end it when it is done",
                          retry_after=1)
    return stored.get(session_id)


def fail(row: stored.SessionRow, reason: str, held: bool = True) -> None:
    """The session's container died (or would not answer): it ends ``failed`` with the reason."""
    close(row, SessionState.FAILED, reason, held=held)


def container_alive(row: stored.SessionRow) -> bool:
    try:
        return attach(row.container) is not None if row.container else False
    except EngineError:
        return True  # the engine did not answer: not a proof that the container is gone


def container_gone(row: stored.SessionRow, recheck_s: float = 1.0) -> str:
    """Why the session's container is gone ('' when it is there): two looks ``recheck_s`` apart,
    so a single odd answer of a loaded engine never ends a session."""
    if container_alive(row):
        return ""
    time.sleep(recheck_s)
    if container_alive(row):
        return ""
    return f"the container {row.container} is {_status(row.container)}"


def _status(container: str) -> str:
    client = getattr(get_runtime(), "client", None)
    try:
        return f"{client.containers.get(container).status}" if client and container else "gone"
    except Exception:  # noqa: BLE001 - only words for a message: any failure to look means gone
        return "gone"
