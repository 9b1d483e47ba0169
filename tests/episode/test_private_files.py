"""An honest fix is judged even when the agent's tools left private files in /repo (hypothesis
writes its cache 0600): the work is copied out by root without CAP_DAC_OVERRIDE, which could not
read them, and the whole reward used to be lost ("the agent's work could not be read")."""

from __future__ import annotations

from typing import Any

import pytest
from minipkg_task import BAD, CALC_PATH, GOOD
from test_trust import episode

pytestmark = pytest.mark.docker


def test_private_files_the_agent_made_do_not_cost_the_reward(task: Any) -> None:
    traj = episode(task.id, [
        ("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        ("bash", {"command": "umask 077 && mkdir -p .hypothesis/constants && echo x > .hypothesis/constants/c1 "
                             "&& echo y > notes.txt && ls -l notes.txt"}),
        ("submit", {}),
    ])
    assert "-rw-------" in traj.turns[1].observation, traj.turns[1].observation
    assert traj.reward is not None and traj.resolved, traj.reward
    assert GOOD in traj.final_diff
