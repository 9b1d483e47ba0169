"""What an episode may spend (``Budget``) and what it has spent so far (``EpisodeState``).

``STOP`` makes every running episode stop at its next step: ``out_of_budget`` raises
``Interrupted`` (the episode ends incomplete, its container removed); ``stop_thread`` does so for
the episode of one thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from forager.clock import utcnow
from forager.errors import ForagerError
from forager.runtime.shell import Observation
from forager.trajectory.schema import Action, Trajectory, Turn
from forager.trajectory.store import save

STOP = threading.Event()
"""Set to make every running episode stop at its next step (incomplete, container removed)."""
_STOPPED_THREADS: set[int] = set()
"""Threads whose episode stops at its next step (one job called off among others in a process)."""


def stop_thread(ident: int) -> None:
    """Make the episode run by thread ``ident`` (only that one) stop at its next step."""
    _STOPPED_THREADS.add(ident)


def release_thread(ident: int) -> None:
    """Thread ``ident`` may run episodes again (its job ended)."""
    _STOPPED_THREADS.discard(ident)


class Interrupted(ForagerError):
    """An episode was stopped from outside (``STOP``)."""


@dataclass
class Budget:
    max_steps: int
    max_tokens: int
    max_wall_s: float


@dataclass
class EpisodeState:
    """What the loop keeps between turns; saved after every turn so a crash loses little."""

    traj: Trajectory
    budget: Budget
    started: float = field(default_factory=time.monotonic)
    tokens: int = 0
    overhead_s: float = 0.0
    persist: bool = True

    def record(self, turn: Turn) -> None:
        self.traj.turns.append(turn)
        self.checkpoint()

    def checkpoint(self) -> None:
        self.traj.duration_s = time.monotonic() - self.started
        if self.persist:
            save(self.traj)

    def account(self, t0: float, model_s: float, obs: Observation) -> None:
        """Add the time a turn spent outside the model and the command (orchestration overhead)."""
        self.overhead_s += max(0.0, time.monotonic() - t0 - model_s - obs.duration_s)

    def out_of_budget(self) -> str:
        """The budget that is spent ('' when none); raises ``Interrupted`` once ``STOP`` is set."""
        if STOP.is_set() or threading.get_ident() in _STOPPED_THREADS:
            raise Interrupted("the run was stopped")
        if len(self.traj.turns) >= self.budget.max_steps:
            return "max_steps"
        if self.budget.max_tokens and self.tokens >= self.budget.max_tokens:
            return "max_tokens"
        if time.monotonic() - self.started >= self.budget.max_wall_s:
            return "max_wall_time"
        return ""


def make_turn(index: int, message: str, action: Action | None, obs: Observation, begun: datetime,
              model_s: float = 0.0, prompt: int = 0, completion: int = 0) -> Turn:
    """One turn of the trajectory, finished now."""
    return Turn(index=index, model_message=message, action=action, observation=obs.output,
                exit_code=obs.exit_code, duration_s=obs.duration_s, model_duration_s=model_s,
                prompt_tokens=prompt, completion_tokens=completion, started_at=begun,
                finished_at=utcnow())
