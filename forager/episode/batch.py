"""Many episodes at once: ``run_many`` runs one per task with a concurrency limit and summarises
each (``EpisodeSummary``); a task that cannot run is summarised as an error, never raised."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from forager.episode.budget import STOP
from forager.episode.run import EpisodeError, run_episode
from forager.trajectory.schema import Trajectory


@dataclass
class EpisodeSummary:
    task_id: str
    trajectory_id: str | None
    resolved: bool
    steps: int
    duration_s: float
    exit_reason: str
    complete: bool = True
    error: str = ""
    overhead_per_step_s: float = 0.0

    @classmethod
    def of(cls, traj: Trajectory) -> EpisodeSummary:
        steps = len(traj.turns)
        return cls(task_id=traj.task_id or "", trajectory_id=traj.id, resolved=traj.resolved,
                   steps=steps, duration_s=round(traj.duration_s, 3), exit_reason=traj.exit_reason,
                   complete=traj.complete,
                   overhead_per_step_s=round(traj.meta.get("orchestration_overhead_s", 0.0) / steps, 4)
                   if steps else 0.0)

    @classmethod
    def failed(cls, task_id: str, error: str, trajectory_id: str | None = None) -> EpisodeSummary:
        return cls(task_id, trajectory_id, False, 0, 0.0, "error", complete=False, error=error)

    def public(self) -> dict[str, Any]:
        """The fields ``forager run --json`` prints."""
        return {"trajectory_id": self.trajectory_id, "task_id": self.task_id, "resolved": self.resolved,
                "steps": self.steps, "duration_s": self.duration_s, "exit_reason": self.exit_reason}


def run_one(task_id: str, **kwargs: Any) -> EpisodeSummary:
    """One episode, summarised; an episode that failed or could not start is an error summary."""
    try:
        return EpisodeSummary.of(run_episode(task_id, **kwargs))
    except EpisodeError as exc:
        return EpisodeSummary.failed(task_id, str(exc), exc.trajectory_id)
    except (LookupError, ValueError) as exc:  # NotFound (no such task), InvalidInput (bad options)
        return EpisodeSummary.failed(task_id, str(exc))


def run_many(task_ids: list[str], *, concurrency: int = 2,
             progress: Callable[[EpisodeSummary], None] | None = None, **kwargs: Any
             ) -> list[EpisodeSummary]:
    """Run one episode per task with at most ``concurrency`` at once; failures are summarised."""

    def one(task_id: str) -> EpisodeSummary:
        summary = run_one(task_id, **kwargs)
        if progress:
            progress(summary)
        return summary

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        return list(pool.map(one, task_ids))
    except BaseException:  # interrupted: stop the running episodes, start no more
        STOP.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        STOP.clear()
