"""Comparing replayed observations and rewards with the recorded ones (forager.trajectory.replay.compare)."""

from __future__ import annotations

from forager.trajectory.replay.compare import compare_observation, compare_reward
from forager.trajectory.schema import Reward


def test_compare_observation_reports_the_first_differing_lines() -> None:
    same = compare_observation("ok in 0.1s", "ok in 9.9s", 0, 0)
    assert same.same and same.detail == ""
    diff = compare_observation("a\nb\nc", "a\nB\nc", 0, 0)
    assert not diff.same and "-b\n+B" in diff.detail
    code = compare_observation("a", "a", 0, 1)
    assert not code.same and "exit status 0 recorded, 1 replayed" in code.detail
    assert compare_observation("a", "a", None, 5).same  # unknown recorded status: not compared


def test_compare_reward() -> None:
    rec = Reward(resolved=True, fail_to_pass={"t1": "passed"}, pass_to_pass={"t2": "passed"})
    assert compare_reward(rec, rec.model_copy()).same
    other = Reward(resolved=False, fail_to_pass={"t1": "failed"}, pass_to_pass={"t2": "passed"})
    cmp = compare_reward(rec, other)
    assert not cmp.same and "resolved True recorded, False replayed" in cmp.detail
    assert "FAIL_TO_PASS t1: passed recorded, failed replayed" in cmp.detail
    assert compare_reward(None, other).same
    assert not compare_reward(rec, None).same
