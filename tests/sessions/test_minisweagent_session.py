"""mini-swe-agent (from PyPI, nobody here wrote it) runs its own DefaultAgent and LitellmModel in a
Forager session through ``forager.client.minisweagent``, driven by the scripted OpenAI-compatible
server: the farm records the trajectory, it resolves, and it re-executes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_model import FakeModel, tool_call
from live_api import serve_in_thread
from session_api import auth

from forager.client import Client
from forager.trajectory.replay.execute import reexecute
from forager.trajectory.store import load_stored

pytestmark = pytest.mark.docker
COMMANDS = ["grep -n 'len(values)' src/minipkg/calc.py",
            "sed -i 's/(len(values) + 1)/len(values)/' src/minipkg/calc.py",
            "git diff --stat && pwd",
            "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"]
SCRIPT = [{"content": f"THOUGHT: step {i}", "tool_calls": [tool_call("bash", {"command": c})]}
          for i, c in enumerate(COMMANDS)]


def _mini_agent(model_url: str, env: Any) -> Any:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm must not fetch its price list
    os.environ["MSWEA_SILENT_STARTUP"] = "1"
    import minisweagent
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.models.litellm_model import LitellmModel

    config = yaml.safe_load((Path(minisweagent.__file__).parent / "config" / "mini.yaml").read_text())
    model = LitellmModel(model_name="openai/scripted", cost_tracking="ignore_errors",
                         model_kwargs={"api_base": model_url, "api_key": "sk-scripted"},
                         **{k: v for k, v in config["model"].items() if k.endswith("template")})
    agent_config = {k: v for k, v in config["agent"].items() if k in ("system_template", "instance_template")}
    return DefaultAgent(model, env, step_limit=10, cost_limit=0, **agent_config)


def test_minisweagent_solves_a_task_in_a_session(task: Any) -> None:
    from forager.client.minisweagent import ForagerEnvironment

    token = auth("write")["Authorization"].removeprefix("Bearer ")
    with serve_in_thread() as url, Client(url, token) as client, FakeModel(SCRIPT) as fake:
        session = client.open_session(task.id, model="scripted", meta={"agent": "mini-swe-agent"})
        env = ForagerEnvironment(client, session["id"])
        agent = _mini_agent(fake.url, env)
        result = agent.run(session["problem_statement"])
        assert result["exit_status"] == "Submitted", agent.messages[-1]
        assert result["resolved"] is True and env.reward and env.reward["resolved"] is True
        assert len(fake.requests) == 4  # the agent's own loop asked the model four times
        shown = client.session(session["id"])
        assert shown["state"] == "submitted" and shown["steps"] == 4

    traj = load_stored(session["trajectory_id"]).trajectory
    assert traj.resolved and traj.complete and traj.meta["client"] == {"agent": "mini-swe-agent"}
    commands = [t.action.args["command"] for t in traj.turns if t.action]
    assert commands[0] == "cd /repo && grep -n 'len(values)' src/minipkg/calc.py"
    assert "(len(values) + 1)" in traj.turns[0].observation  # the container's answer, recorded by the farm
    assert traj.turns[2].observation.strip().endswith("/repo")
    report = reexecute(traj.id)
    assert report.error is None and report.reproduces, report.to_dict()
    assert report.counts["match"] == 4 and report.reward["replayed"] is True
