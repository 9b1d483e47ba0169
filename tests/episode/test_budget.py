"""What an episode may spend: steps, tokens, wall time, and the STOP switch."""

from __future__ import annotations

import pytest

from forager.episode.budget import STOP, Budget, EpisodeState, Interrupted, make_turn
from forager.runtime.shell import Observation
from forager.trajectory.schema import Trajectory


def test_budgets_in_order() -> None:
    state = EpisodeState(traj=Trajectory(), budget=Budget(max_steps=2, max_tokens=100, max_wall_s=3600),
                         persist=False)
    assert state.out_of_budget() == ""
    state.tokens = 100
    assert state.out_of_budget() == "max_tokens"
    state.budget.max_tokens = 0  # no token budget
    assert state.out_of_budget() == ""
    from forager.clock import utcnow

    for n in range(2):
        state.record(make_turn(n, "m", None, Observation("out", 0, 0.1), utcnow()))
    assert state.out_of_budget() == "max_steps" and state.traj.turns[1].observation == "out"
    state.budget.max_steps, state.budget.max_wall_s = 10, 0.0
    assert state.out_of_budget() == "max_wall_time"


def test_stop_interrupts() -> None:
    state = EpisodeState(traj=Trajectory(), budget=Budget(10, 0, 3600), persist=False)
    STOP.set()
    try:
        with pytest.raises(Interrupted):
            state.out_of_budget()
    finally:
        STOP.clear()
