"""The trajectory a session leaves: stored (``origin: session``) when the session opens, each action
recorded as a turn in the registry as it happens (the observation is the container's), and the whole
trajectory written when the session ends, however it ends (marked in ``exit_reason`` and
``meta.session``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forager.clock import utcnow
from forager.enums import Origin, SessionState
from forager.episode.spec import TaskSpec
from forager.runtime.shell import Observation
from forager.sessions.limits import SessionLimits
from forager.store import sessions as stored
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn
from forager.trajectory.store import load_stored, save

AGENT = "session"
"""The ``agent`` of a session's trajectory (the client's own agent name goes to ``meta``)."""
EXIT_REASONS = {SessionState.SUBMITTED: "submitted", SessionState.ENDED: "ended_by_client",
                SessionState.EXPIRED: "idle_timeout", SessionState.FAILED: "environment_error"}


def new_trajectory(traj_id: str, session_id: str, spec: TaskSpec, model: str | None,
                   meta: dict[str, Any], limits: SessionLimits) -> Trajectory:
    """The trajectory of a session that opens now (``running``, no turns), stored."""
    traj = Trajectory(
        id=traj_id, task_id=spec.id, image=spec.image, image_digest=spec.image_digest or None,
        repository=spec.repository or None, kind=spec.kind or None, agent=AGENT,
        model=ModelInfo(name=model or ""), problem_statement=spec.problem_statement, complete=False,
        exit_reason="running", started_at=utcnow())
    traj.meta.update(session={"id": session_id, "state": SessionState.ACTIVE.value}, client=meta,
                     limits=limits.to_dict())
    save(traj, Origin.SESSION)
    return traj


def make_turn(index: int, action: Action, obs: Observation, started: datetime) -> Turn:
    return Turn(index=index, action=action, observation=obs.output, exit_code=obs.exit_code,
                duration_s=round(obs.duration_s, 4), started_at=started, finished_at=utcnow())


def record(session_id: str, turn: Turn) -> None:
    """One action, stored as it happened (and the session released for the next)."""
    stored.record_turn(session_id, turn.index, turn.model_dump(mode="json"))


def finish(row: stored.SessionRow, state: SessionState, reason: str, *, diff: str = "",
           reward: Reward | None = None, sandbox_user: str | None = None) -> Trajectory:
    """Write the session's whole trajectory: its recorded turns, its end, its reward if judged."""
    traj = load_stored(row.trajectory_id).trajectory
    traj.turns = [Turn.model_validate(t) for t in stored.turns(row.id)]
    traj.final_diff, traj.reward = diff, reward
    traj.complete = state == SessionState.SUBMITTED
    traj.exit_reason = EXIT_REASONS[state]
    traj.finished_at = utcnow()
    started = traj.started_at or row.created_at
    traj.duration_s = max(0.0, (traj.finished_at - started).total_seconds())
    traj.meta["session"] = {"id": row.id, "state": state.value, "reason": reason[:500]}
    traj.meta.update(sandbox_user=sandbox_user or row.user, container=row.container)
    save(traj, Origin.SESSION)
    return traj
