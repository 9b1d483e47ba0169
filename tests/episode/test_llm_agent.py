"""The llm agent's loop over the LocalRuntime with the in-package scripted model (no Docker engine,
no endpoint): tool calls, replies without one, budgets, model failures, text mode, submit."""

from __future__ import annotations

from typing import Any

import pytest
from local_minipkg import local_task  # noqa: F401 - fixture
from minipkg_task import BAD, CALC_PATH, F2P, GOOD

from forager.episode.agents import AgentOptions
from forager.model.base import ModelError
from forager.model.fake import FakeModel, Reply


def episode(task: Any, script: list[Reply], **kwargs: Any) -> Any:
    from forager.episode.run import run_episode

    model = FakeModel(script, tool_mode=kwargs.pop("tool_mode", "native"))
    traj = run_episode(task.id, agent="llm", options=AgentOptions(model=model), runtime=task.runtime, **kwargs)
    return traj, model


@pytest.fixture
def unjudged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes end without the judged reward (a second sandbox and a test run: the oracle's test
    has it); these tests are about the loop."""
    from forager.episode import reward
    from forager.trajectory.schema import Reward

    monkeypatch.setattr(reward, "judge", lambda env, task: reward.Judgement("", Reward(flags=["not judged"])))


SOLVE = [
    Reply("Look first.", tool_calls=[("view", {"path": CALC_PATH})]),
    Reply(tool_calls=[("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD})]),
    Reply(tool_calls=[("run_tests", {"tests": F2P})]),
    Reply(tool_calls=[("submit", {})]),
]


def test_native_tool_calls_fix_and_submit(local_task: Any, unjudged: None) -> None:  # noqa: F811
    traj, model = episode(local_task, SOLVE)
    assert traj.complete and traj.exit_reason == "submitted"
    assert [t.action.tool for t in traj.turns if t.action] == ["view", "edit", "run_tests", "submit"]
    assert "def mean" in traj.turns[0].observation and "1 passed" in traj.turns[2].observation
    assert traj.reward is not None and traj.reward.flags == ["not judged"]  # the oracle's test judges
    assert model.closed and traj.model.name == "fake" and traj.model.sampling["tool_mode"] == "native"
    assert [t["function"]["name"] for t in model.requests[0]["tools"]][0] == "bash"
    assert model.requests[-1]["messages"][-1]["role"] == "tool"
    assert traj.meta["tokens"] > 0 and traj.meta["budget"]["max_steps"] > 0
    assert not local_task.runtime.sandboxes


def test_text_mode_and_replies_without_action(local_task: Any, unjudged: None) -> None:  # noqa: F811
    traj, model = episode(local_task, [Reply("Let me think."), *SOLVE], tool_mode="text")
    assert traj.exit_reason == "submitted"
    assert traj.turns[0].action is None and "No function call" in traj.turns[0].observation
    assert "<function=NAME>" in model.requests[0]["messages"][0]["content"]
    assert model.requests[1]["messages"][-1]["role"] == "user"


def test_three_replies_without_action_end_the_episode(local_task: Any, unjudged: None) -> None:  # noqa: F811
    traj, _ = episode(local_task, [Reply("hmm"), Reply("hmm"), Reply("hmm"), *SOLVE])
    assert traj.complete and traj.exit_reason == "no_action" and len(traj.turns) == 3
    assert all("No tool call" in t.observation for t in traj.turns)


def test_step_budget_and_extra_tool_calls(local_task: Any, unjudged: None) -> None:  # noqa: F811
    two = Reply(tool_calls=[("bash", {"command": "echo one"}), ("bash", {"command": "echo two"})])
    traj, model = episode(local_task, [two, Reply(tool_calls=[("bash", {"command": "echo again"})]), *SOLVE],
                          max_steps=2)
    assert traj.complete and traj.exit_reason == "max_steps" and len(traj.turns) == 2
    assert traj.turns[0].observation.strip() == "one"
    refused = [m for m in model.requests[1]["messages"] if m["role"] == "tool"]
    assert "one tool call per reply" in refused[-1]["content"]


def test_model_errors_and_malformed_calls(local_task: Any, unjudged: None) -> None:  # noqa: F811
    traj, _ = episode(local_task, [Reply(tool_calls=[("bash", "not json")]),
                                   Reply(tool_calls=[("bogus", {})]),
                                   Reply(tool_calls=[("bash", {"cmd": "ls"})]),
                                   Reply(error=ModelError("the endpoint is gone"))])
    assert traj.complete and traj.exit_reason == "model_error"
    assert "endpoint is gone" in traj.meta["model_error"]
    assert [t.exit_code for t in traj.turns] == [None, None, None]
    assert "unknown tool" in traj.turns[1].observation and "bad arguments" in traj.turns[2].observation
