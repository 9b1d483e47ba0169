"""``forager.client`` against the API served for real (uvicorn): the RL wrapper ``SessionEnv``
(reset, step, submit: the reward), the async client, and the client's errors."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sessions"))
from live_api import serve_in_thread  # noqa: E402
from minipkg_task import BAD, CALC_PATH, GOOD  # noqa: E402
from session_api import auth  # noqa: E402

from forager.client import ApiError, AsyncClient, Client, SessionEnv  # noqa: E402

pytestmark = pytest.mark.docker


def _token() -> str:
    return auth("write")["Authorization"].removeprefix("Bearer ")


def test_session_env_reset_step_submit_gives_the_reward(task: Any) -> None:
    with serve_in_thread() as url, Client(url, _token()) as client:
        env = SessionEnv(client, task.id, model="rl-policy", budgets={"max_actions": 5})
        statement, info = env.reset()
        assert "mean()" in statement and info["limits"]["max_actions"] == 5
        assert [t["function"]["name"] for t in info["tools"]][0] == "bash"
        first = env.step({"tool": "bash", "arguments": {"command": "echo hi"}})
        assert (first.observation.strip(), first.reward, first.done) == ("hi", 0.0, False)
        fixed = env.step({"tool": "edit", "arguments": {"path": CALC_PATH, "old_str": BAD, "new_str": GOOD}})
        assert fixed.info["exit_code"] == 0
        judged = env.submit()
        assert judged.done and judged.reward == 1.0 and judged.info["reward"]["resolved"] is True
        with pytest.raises(RuntimeError):
            env.step({"tool": "bash", "arguments": {"command": "true"}})
        # a second episode: reset opens a fresh session; ending it early is done=True, reward 0
        env.reset()
        env.close()
        with pytest.raises(ApiError) as err:
            client.bash(str(env.session["id"]) if env.session else "", "true")
        assert err.value.status == 409
        with pytest.raises(ApiError) as missing:
            client.open_session("task-nope")
        assert missing.value.status == 404 and "task-nope" in str(missing.value.detail)


def test_the_async_client_acts_in_a_session(task: Any) -> None:
    async def run(url: str, token: str) -> tuple[Any, Any, Any]:
        async with AsyncClient(url, token) as client:
            opened = await client.open_session(task.id, meta={"async": True})
            outs = await asyncio.gather(client.bash(opened["id"], "echo one"), client.session(opened["id"]))
            ended = await client.end_session(opened["id"])
            traj = await client.trajectory(opened["trajectory_id"])
            return outs, ended, traj

    with serve_in_thread() as url:
        (out, shown), ended, traj = asyncio.run(run(url, _token()))
    assert out["observation"].strip() == "one" and shown["state"] == "active"
    assert ended["state"] == "ended" and traj["exit_reason"] == "ended_by_client"
    assert traj["meta"]["client"] == {"async": True} and len(traj["turns"]) == 1
