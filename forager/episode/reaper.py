"""What episodes of dead processes left behind: their containers and their ``running`` trajectories.

Containers and trajectories record their owner (``host:pid``); an owner that is a process of this
host that no longer runs is dead. Owners on other hosts are left to their own host's processes."""

from __future__ import annotations

from forager.clock import utcnow
from forager.episode.environment import EPISODE_LABEL
from forager.errors import EngineError
from forager.owner import OWNER_LABEL, is_dead
from forager.runtime import get_runtime


def reap_orphans() -> list[str]:
    """Remove episode containers whose owning process (on this host) is gone, and end the
    trajectories such processes left ``running`` (marked incomplete, ``interrupted``); returns the
    names of the containers removed. Safe to call from any process at any time."""
    runtime = get_runtime()
    removed: list[str] = []
    for c in runtime.containers({EPISODE_LABEL: None}):
        if not is_dead(c.labels.get(OWNER_LABEL, "")):
            continue
        try:
            if runtime.remove_container(c.id):
                removed.append(c.name)
        except EngineError:  # the engine would not remove it now: the next reaper tries again
            pass
    close_dead_trajectories()
    return removed


def close_dead_trajectories() -> list[str]:
    """Trajectories still ``running`` whose episode's process died: marked ``interrupted``."""
    from forager.store.episodes import running_trajectory_ids
    from forager.trajectory.store import load_stored, save

    closed = []
    for traj_id in running_trajectory_ids():
        try:
            traj = load_stored(traj_id).trajectory
        except LookupError:
            continue
        if traj.exit_reason != "running" or not is_dead(str(traj.meta.get("owner", ""))):
            continue
        traj.complete, traj.exit_reason, traj.finished_at = False, "interrupted", utcnow()
        traj.meta["error"] = "the process that ran the episode died"
        save(traj)
        closed.append(traj_id)
    return closed
