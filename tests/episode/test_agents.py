"""The oracle and the llm agent against the real engine, with the minipkg task and a scripted model server."""

from __future__ import annotations

from typing import Any

import pytest
from fake_model import FakeModel, text_call
from minipkg_task import BAD, CALC_PATH, F2P, GOOD

from forager.config import reset_settings


def test_oracle_resolves(task: Any) -> None:
    from forager.episode.run import run_episode
    from forager.trajectory.store import load

    traj = run_episode(task.id, agent="oracle")
    assert traj.resolved and traj.exit_reason == "submitted" and traj.complete
    assert [t.action.tool for t in traj.turns if t.action] == ["bash", "run_tests", "submit"]
    assert GOOD in traj.final_diff and BAD in traj.final_diff
    assert traj.reward and traj.reward.fail_to_pass == {F2P[0]: "passed"}
    stored = load(traj.id or "")
    assert stored.error is None and stored.trajectory.resolved and stored.trajectory.complete
    assert stored.trajectory.image_digest


def _solve_script(call: Any) -> list[dict[str, Any]]:
    return [
        call("view", {"path": CALC_PATH}),
        call("edit", {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}),
        call("run_tests", {"tests": F2P}),
        call("submit", {}),
    ]


def test_llm_agent_tool_calls(task: Any) -> None:
    from forager.episode.run import run_episode

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"content": f"Next: {name}.", "tool_calls": [(name, args)]}

    script = [{"status": 503}, *_solve_script(call)]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, agent="llm", model_url=fake.url, model_name="scripted")
    assert traj.exit_reason == "submitted" and traj.resolved, traj.turns
    assert [t.action.tool for t in traj.turns if t.action] == ["view", "edit", "run_tests", "submit"]
    assert "1 passed" in traj.turns[2].observation
    assert all(t.prompt_tokens > 0 and t.completion_tokens == 20 for t in traj.turns)
    body = fake.requests[-1]["body"]
    assert [t["function"]["name"] for t in body["tools"]][0] == "bash"
    assert body["messages"][-1]["role"] == "tool"
    assert len(fake.requests) == 5  # the 503 was retried
    assert traj.model.name == "scripted" and traj.model.sampling["tool_mode"] == "native"


def test_llm_agent_plain_text_actions(task: Any) -> None:
    from forager.episode.run import run_episode

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"content": f"I will use {name}.\n" + text_call(name, args), "usage": False}

    script = [{"content": "Let me think without acting."}, *_solve_script(call)]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, model_url=fake.url, model_name="plain", tool_mode="text")
    assert traj.exit_reason == "submitted" and traj.resolved
    assert traj.turns[0].action is None and "No function call" in traj.turns[0].observation
    assert [t.action.tool for t in traj.turns[1:] if t.action] == ["view", "edit", "run_tests", "submit"]
    first = fake.requests[0]["body"]
    assert "tools" not in first and "<function=NAME>" in first["messages"][0]["content"]
    assert fake.requests[1]["body"]["messages"][-1]["role"] == "user"
    assert all(t.prompt_tokens > 0 for t in traj.turns)  # estimated when usage is missing


def test_budget_and_hung_command(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from forager.episode.run import run_episode

    monkeypatch.setenv("FORAGER_COMMAND_TIMEOUT_S", "2")
    reset_settings()
    script = [{"tool_calls": [("bash", {"command": "sleep 600"})]},
              {"tool_calls": [("bash", {"command": "echo alive"})]},
              {"tool_calls": [("bash", {"command": "echo never"})]}]
    with FakeModel(script) as fake:
        traj = run_episode(task.id, model_url=fake.url, model_name="m", max_steps=2)
    assert traj.exit_reason == "max_steps" and len(traj.turns) == 2 and traj.complete
    assert traj.turns[0].exit_code == 124 and "timed out" in traj.turns[0].observation
    assert traj.turns[0].duration_s < 12
    assert traj.turns[1].observation.strip() == "alive"
    assert traj.reward is not None and not traj.resolved

