"""Finding what to replay: a trajectory by stored id or file path, and one of its steps."""

from __future__ import annotations

from forager.errors import ForagerError
from forager.trajectory.fileformat import LoadResult
from forager.trajectory.schema import Trajectory, Turn
from forager.trajectory.store import load


class ReplayError(ForagerError):
    """The trajectory or its image cannot be found or used."""


def open_trajectory(ref: str) -> LoadResult:
    """Load a trajectory by stored id or file path; a clear ``ReplayError`` when there is none."""
    try:
        return load(ref)
    except LookupError:
        raise ReplayError(f"no trajectory {ref!r}: no such file, and no stored trajectory has that id") \
            from None
    except OSError as exc:
        raise ReplayError(f"cannot read {ref!r}: {exc.strerror or exc}") from None


def find_turn(traj: Trajectory, step: int) -> Turn:
    """The turn with index ``step``; ``ReplayError`` naming the steps there are when none has it."""
    for turn in traj.turns:
        if turn.index == step:
            return turn
    indexes = [t.index for t in traj.turns]
    have = f"steps {min(indexes)}..{max(indexes)}" if indexes else "no steps"
    raise ReplayError(f"no step {step}: the trajectory has {have}")
