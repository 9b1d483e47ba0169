"""The oracle agent over the LocalRuntime (no Docker engine): the gold patch through the tools."""

from __future__ import annotations

from typing import Any

from local_minipkg import local_task  # noqa: F401 - fixture
from minipkg_task import BAD, F2P, GOOD


def test_oracle_applies_the_gold_patch_through_the_tools(local_task: Any) -> None:  # noqa: F811
    from forager.episode.run import run_episode

    traj = run_episode(local_task.id, agent="oracle", runtime=local_task.runtime)
    assert traj.complete and traj.exit_reason == "submitted"
    assert [t.action.tool for t in traj.turns if t.action] == ["bash", "run_tests", "submit"]
    assert traj.turns[0].exit_code == 0, traj.turns[0].observation
    assert "1 passed" in traj.turns[1].observation, traj.turns[1].observation
    assert GOOD in traj.final_diff and BAD in traj.final_diff
    assert traj.reward is not None and set(traj.reward.fail_to_pass) == set(F2P)
    assert traj.model.name == "oracle" and traj.meta["sandbox_user"] == "root"
    assert not local_task.runtime.sandboxes  # the episode's and the judge's sandboxes are gone
