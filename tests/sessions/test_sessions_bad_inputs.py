"""Every bad input we could think of on the session endpoints, each with what it must get: a clear
status and a recorded state, never a crash (500) or a hang."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from session_api import Api, act, auth, open_api

from forager.config import reset_settings
from forager.sessions.reaper import sweep
from forager.trajectory.store import load_stored

pytestmark = pytest.mark.docker


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


def _open(api: Api, task_id: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    r = api.client.post("/v1/sessions", headers=headers or api.write, json={"task_id": task_id, **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_requests_without_a_session_to_act_on(api: Api, task: Any) -> None:
    post = api.client.post
    assert post("/v1/sessions", json={"task_id": task.id}).status_code == 401  # no token
    assert post("/v1/sessions", headers={"Authorization": "Bearer fgr_00000000_" + "x" * 43},
                json={"task_id": task.id}).status_code == 401  # unknown token
    assert post("/v1/sessions", headers=api.read, json={"task_id": task.id}).status_code == 403  # read scope
    unknown = post("/v1/sessions", headers=api.write, json={"task_id": "task-nope"})
    assert unknown.status_code == 404 and "task-nope" in unknown.json()["detail"]
    assert post("/v1/sessions", headers=api.write, json={"task_id": ""}).status_code == 422
    assert post("/v1/sessions", headers=api.write, json={"task_id": task.id, "extra": 1}).status_code == 422
    for budgets in ({"max_actions": 0}, {"action_timeout_s": -1}, {"max_actions": "many"}, {"steps": 3}):
        assert post("/v1/sessions", headers=api.write, json={"task_id": task.id, "budgets": budgets}
                    ).status_code == 422, budgets
    big_meta = post("/v1/sessions", headers=api.write, json={"task_id": task.id, "meta": {"x": "y" * 20000}})
    assert big_meta.status_code == 422
    deep = post("/v1/sessions", headers={**api.write, "Content-Type": "application/json"},
                content=b'{"task_id": "t", "meta": ' + b'{"a": ' * 100000 + b"1" + b"}" * 100001)
    assert deep.status_code == 400, deep.status_code  # too deep to parse: refused, not a crash
    assert post("/v1/sessions", headers={**api.write, "Content-Type": "application/json"},
                content=b"{not json").status_code == 422
    for sid in ("sess-nope", "..%2F..%2Fetc%2Fpasswd", "x" * 300):
        assert api.client.get(f"/v1/sessions/{sid}", headers=api.write).status_code == 404
        assert act(api, sid, "bash", command="true").status_code == 404
        assert post(f"/v1/sessions/{sid}/submit", headers=api.write).status_code == 404
        assert api.client.delete(f"/v1/sessions/{sid}", headers=api.write).status_code == 404


def test_bad_actions_in_a_live_session(api: Api, task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _open(api, task.id, budgets={"max_actions": 10**9, "action_timeout_s": 2})
    sid = opened["id"]
    assert opened["limits"]["action_timeout_s"] == 2 and opened["limits"]["max_actions"] == 500  # lowered only
    # another token: the session does not exist for it
    assert api.client.get(f"/v1/sessions/{sid}", headers=api.other).status_code == 404
    assert act(api, sid, "bash", headers=api.other, command="true").status_code == 404
    assert api.client.post(f"/v1/sessions/{sid}/submit", headers=api.other).status_code == 404
    assert api.client.delete(f"/v1/sessions/{sid}", headers=api.other).status_code == 404
    # unknown tool, malformed bodies: refused, nothing recorded
    assert act(api, sid, "rm_rf").status_code == 422
    assert api.client.post(f"/v1/sessions/{sid}/actions", headers=api.write,
                           json={"tool": "bash", "arguments": "ls"}).status_code == 422
    assert api.client.post(f"/v1/sessions/{sid}/actions", headers=api.write,
                           json={"tool": "bash", "arguments": {}, "x": 1}).status_code == 422
    # bad arguments: an error observation without exit code, recorded as a turn (as in episodes)
    missing = act(api, sid, "bash").json()
    assert missing["exit_code"] is None and missing["observation"].startswith("error: bad arguments")
    typo = act(api, sid, "view", path="src/minipkg/calc.py", start_line="abc").json()
    assert typo["exit_code"] is None and typo["observation"].startswith("error: bad arguments")
    not_a_file = act(api, sid, "view", path=1).json()
    assert not_a_file["exit_code"] == 1 and "/repo/1" in not_a_file["observation"]
    assert act(api, sid, "edit", path="src/minipkg/calc.py", old_str="not there", new_str="x").json()["exit_code"] == 1
    nul = act(api, sid, "view", path="src/\x00calc.py").json()
    assert nul["exit_code"] != 0 and "error" in nul["observation"]
    # the action timeout: the command is killed, the session goes on
    started = time.monotonic()
    slow = act(api, sid, "bash", command="sleep 30").json()
    assert slow["timed_out"] is True and time.monotonic() - started < 20
    assert act(api, sid, "bash", command="echo alive").json()["observation"].strip() == "alive"
    # huge output keeps head and tail
    big = act(api, sid, "bash", command="seq 1 2000000").json()
    assert len(big["observation"]) < 40000 and big["observation"].startswith("1\n")
    # oversized payloads: 413 before parsing, by Content-Length or streamed without one
    monkeypatch.setenv("FORAGER_SESSION_MAX_PAYLOAD_BYTES", "4096")
    reset_settings()
    too_big = act(api, sid, "create", path="x.txt", content="y" * 5000)
    assert too_big.status_code == 413
    streamed = api.client.post(f"/v1/sessions/{sid}/actions", headers={**api.write, "Content-Type": "application/json"},
                               content=iter([b'{"tool": "bash", "arguments": {"command": "', b"z" * 5000, b'"}}']))
    assert streamed.status_code == 413
    steps = api.client.get(f"/v1/sessions/{sid}", headers=api.write).json()["steps"]
    assert steps == 8  # the refused requests left no turn; the bad calls did
    assert api.client.delete(f"/v1/sessions/{sid}", headers=api.write).status_code == 200
    assert act(api, sid, "bash", command="true").status_code == 409  # action after the end
    assert api.client.post(f"/v1/sessions/{sid}/submit", headers=api.write).status_code == 409
    assert api.client.delete(f"/v1/sessions/{sid}", headers=api.write).status_code == 409


def test_paths_in_the_file_tools_stay_in_the_container(api: Api, task: Any) -> None:
    sid = _open(api, task.id)["id"]
    marker = f"escape-{uuid.uuid4().hex}"
    made = act(api, sid, "create", path=f"../../../../tmp/{marker}", content="inside").json()
    assert made["exit_code"] == 0 and f"/tmp/{marker}" in made["observation"]
    assert not (Path("/tmp") / marker).exists()  # the host's /tmp was not touched
    assert act(api, sid, "view", path=f"/tmp/{marker}").json()["observation"].rstrip().endswith("inside")
    passwd = act(api, sid, "view", path="../../etc/passwd").json()["observation"]
    assert "forager:x:7000" in passwd  # the container's /etc/passwd, with the sandbox user
    denied = act(api, sid, "create", path="/etc/forager-owned", content="x").json()
    assert denied["exit_code"] == 1 and "could not write" in denied["observation"]  # not root in there
    shadow = act(api, sid, "view", path="/etc/shadow").json()
    assert shadow["exit_code"] == 1
    api.client.delete(f"/v1/sessions/{sid}", headers=api.write)


def test_limits_on_sessions_actions_and_idle_time(api: Api, task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_SESSION_MAX_PER_TOKEN", "1")
    monkeypatch.setenv("FORAGER_SESSION_MAX_TOTAL", "2")
    reset_settings()
    first = _open(api, task.id, budgets={"max_actions": 1})
    again = api.client.post("/v1/sessions", headers=api.write, json={"task_id": task.id})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    assert "this token" in again.json()["detail"]
    second = _open(api, task.id, headers=api.other)
    third_token = auth("write", "third")
    full = api.client.post("/v1/sessions", headers=third_token, json={"task_id": task.id})
    assert full.status_code == 429 and "the farm" in full.json()["detail"] and full.headers["Retry-After"]
    # actions per session
    assert act(api, first["id"], "bash", command="true").status_code == 200
    spent = act(api, first["id"], "bash", command="true")
    assert spent.status_code == 409 and "all its 1 actions" in spent.json()["detail"]
    assert api.client.post(f"/v1/sessions/{first['id']}/submit", headers=api.write).status_code == 200
    # idle timeout: the sweep ends the idle session, its container removed, its trajectory marked
    monkeypatch.setenv("FORAGER_SESSION_IDLE_TIMEOUT_S", "1")
    reset_settings()
    time.sleep(1.5)
    assert sweep()["expired"] == 1
    shown = api.client.get(f"/v1/sessions/{second['id']}", headers=api.other).json()
    assert shown["state"] == "expired" and "idle" in shown["end_reason"]
    assert act(api, second["id"], "bash", headers=api.other, command="true").status_code == 409
    traj = load_stored(second["trajectory_id"]).trajectory
    assert traj.exit_reason == "idle_timeout" and not traj.complete
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=forager.session={second['id']}"],
                          capture_output=True, text=True)
    assert left.stdout.strip() == ""
    # now there is room again (and that session is ended, so no container outlives the test)
    room = api.client.post("/v1/sessions", headers=third_token, json={"task_id": task.id})
    assert room.status_code == 201
    assert api.client.delete(f"/v1/sessions/{room.json()['id']}", headers=third_token).status_code == 200


def test_a_container_killed_underneath_ends_the_session_failed(api: Api, task: Any) -> None:
    opened = _open(api, task.id)
    sid = opened["id"]
    assert act(api, sid, "bash", command="true").json()["exit_code"] == 0
    subprocess.run(["docker", "kill", f"forager-{sid}"], check=True, capture_output=True)
    started = time.monotonic()
    dead = act(api, sid, "bash", command="true")
    assert dead.status_code == 409 and "container" in dead.json()["detail"] and time.monotonic() - started < 30
    shown = api.client.get(f"/v1/sessions/{sid}", headers=api.write).json()
    assert shown["state"] == "failed"
    traj = load_stored(opened["trajectory_id"]).trajectory
    assert traj.exit_reason == "environment_error" and len(traj.turns) == 1


def test_a_container_removed_while_idle_is_found_by_the_sweep(api: Api, task: Any) -> None:
    opened = _open(api, task.id)
    subprocess.run(["docker", "rm", "-f", f"forager-{opened['id']}"], check=True, capture_output=True)
    assert sweep()["failed"] == 1
    shown = api.client.get(f"/v1/sessions/{opened['id']}", headers=api.write).json()
    assert shown["state"] == "failed" and "gone" in shown["end_reason"]
