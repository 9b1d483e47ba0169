"""Sessions over the API on the real Docker engine: open, act, submit (the reward judged as an
episode's), the trajectory the farm recorded, and its re-execution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from minipkg_task import BAD, CALC_PATH, GOOD
from session_api import Api, act, open_api

from forager.episode.tools import TOOL_NAMES
from forager.trajectory.replay.execute import reexecute
from forager.trajectory.store import load_stored

pytestmark = pytest.mark.docker


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


def test_a_session_fixes_the_task_and_its_trajectory_resolves_and_reexecutes(api: Api, task: Any) -> None:
    r = api.client.post("/v1/sessions", headers=api.write,
                        json={"task_id": task.id, "model": "outside-agent", "meta": {"run": 7}})
    assert r.status_code == 201, r.text
    opened = r.json()
    sid = opened["id"]
    assert opened["state"] == "active" and "mean()" in opened["problem_statement"]
    assert [t["function"]["name"] for t in opened["tools"]] == TOOL_NAMES
    assert opened["limits"]["max_actions"] >= 1

    first = act(api, sid, "bash", command="cd src && pwd && id -un")
    assert first.status_code == 200, first.text
    out = first.json()
    assert out["step"] == 0 and out["exit_code"] == 0 and out["observation"].split() == ["/repo/src", "forager"]
    assert act(api, sid, "bash", command="pwd").json()["observation"].strip() == "/repo/src"  # cwd persists
    assert act(api, sid, "bash", command="exit 3").json()["exit_code"] == 3
    viewed = act(api, sid, "view", path=CALC_PATH).json()
    assert BAD in viewed["observation"]
    edited = act(api, sid, "edit", path=CALC_PATH, old_str=BAD, new_str=GOOD).json()
    assert edited["exit_code"] == 0, edited
    tests = act(api, sid, "run_tests", tests=["tests/test_calc.py::test_mean"]).json()
    assert tests["exit_code"] == 0 and "passed" in tests["observation"]

    shown = api.client.get(f"/v1/sessions/{sid}", headers=api.write).json()
    assert shown["steps"] == 6 and shown["state"] == "active"

    judged = api.client.post(f"/v1/sessions/{sid}/submit", headers=api.write)
    assert judged.status_code == 200, judged.text
    body = judged.json()
    assert body["state"] == "submitted" and body["resolved"] is True
    assert body["reward"]["fail_to_pass"] == {"tests/test_calc.py::test_mean": "passed"}

    traj = load_stored(body["trajectory_id"]).trajectory
    assert traj.complete and traj.resolved and traj.exit_reason == "submitted" and traj.agent == "session"
    assert [t.action.tool for t in traj.turns if t.action] == ["bash", "bash", "bash", "view", "edit", "run_tests"]
    assert traj.turns[0].observation.split() == ["/repo/src", "forager"]
    assert traj.meta["client"] == {"run": 7} and traj.model.name == "outside-agent"
    assert GOOD in traj.final_diff
    listed = api.client.get(f"/v1/trajectories/{traj.id}", headers=api.read)
    assert listed.status_code == 200

    report = reexecute(traj.id)
    assert report.error is None, report.error
    assert report.reproduces, report.to_dict()
    assert report.reward["replayed"] is True


def test_a_submit_call_is_the_submit_and_a_session_ended_by_its_client_keeps_its_trajectory(
        api: Api, task: Any) -> None:
    sid = api.client.post("/v1/sessions", headers=api.write, json={"task_id": task.id}).json()["id"]
    out = act(api, sid, "submit").json()
    assert out["state"] == "submitted" and out["reward"]["resolved"] is False
    assert out["reward"]["fail_to_pass"] == {"tests/test_calc.py::test_mean": "failed"}

    second = api.client.post("/v1/sessions", headers=api.write, json={"task_id": task.id}).json()
    act(api, second["id"], "bash", command="echo hi")
    ended = api.client.delete(f"/v1/sessions/{second['id']}", headers=api.write)
    assert ended.status_code == 200 and ended.json()["state"] == "ended"
    traj = load_stored(second["trajectory_id"]).trajectory
    assert traj.exit_reason == "ended_by_client" and not traj.complete and len(traj.turns) == 1
    assert traj.meta["session"]["state"] == "ended"
