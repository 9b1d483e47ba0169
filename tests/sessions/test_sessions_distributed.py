"""Distributed mode: two API processes (uvicorn, ``forager api``) share the real PostgreSQL of this
machine and one Docker engine. A session opened through one is served by the other: its actions
reach the same container, in the same shell state; one action at a time across both; a restarted
API process carries on with the session; a container killed underneath ends it ``failed``."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_api import ApiProcess
from minipkg_task import BAD, BROKEN, CALC, CALC_PATH, F2P, GOOD, P2P, udiff
from needs import unavailable

from forager.config import reset_settings
from forager.store import db, tokens

pytestmark = [pytest.mark.services, pytest.mark.docker]
PG = "postgresql+psycopg://root@127.0.0.1:5432/{name}"


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import psycopg

    try:
        admin = psycopg.connect("host=127.0.0.1 user=root dbname=postgres", autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL is not reachable: {exc}")
    name = f"forager_sess_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG.format(name=name)
    db.upgrade(url)
    monkeypatch.setenv("FORAGER_DATABASE_URL", url)
    reset_settings()
    try:
        yield url
    finally:
        db.engine_for(url).dispose()
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def _task_rows(build: Any, runtime: Any) -> str:
    with db.session() as s:
        s.add(db.Build(id=build.build_id, source=build.source, status="validated", image=build.image,
                       test_command=build.test_command))
        s.flush()
        s.add(db.Image(id=build.image, build_id=build.build_id, digest=runtime.image_digest(build.image) or "",
                       source=build.source, python=build.python or "3.11", test_command=build.test_command))
        s.flush()
        row = db.Task(kind="mutate-fix", image_id=build.image, setup_patch=udiff(CALC, BROKEN, CALC_PATH),
                      gold_patch=udiff(BROKEN, CALC, CALC_PATH), fail_to_pass=F2P, pass_to_pass=P2P,
                      problem_statement="mean() is wrong")
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def two_apis(pg_url: str, forager_home: Path, tmp_path: Path) -> Iterator[list[ApiProcess]]:
    env = {"FORAGER_DATABASE_URL": pg_url, "FORAGER_HOME": str(forager_home)}
    apis = [ApiProcess(env, tmp_path / f"api{i}.log") for i in (1, 2)]
    try:
        for a in apis:
            a.wait()
        yield apis
    finally:
        for a in apis:
            a.stop()


def _act(url: str, headers: dict[str, str], sid: str, tool: str, **arguments: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/sessions/{sid}/actions", headers=headers, timeout=300,
                      json={"tool": tool, "arguments": arguments})


def test_an_action_sent_to_either_api_process_reaches_the_sessions_container(
        two_apis: list[ApiProcess], minipkg_build: Any, runtime: Any, pg_url: str, tmp_path: Path) -> None:
    task_id = _task_rows(minipkg_build, runtime)
    token, _ = tokens.create("dist", "write")
    h = {"Authorization": f"Bearer {token}"}
    a, b = two_apis
    opened = httpx.post(f"{a.url}/v1/sessions", headers=h, json={"task_id": task_id}, timeout=300)
    assert opened.status_code == 201, opened.text
    sid = opened.json()["id"]

    first = _act(a.url, h, sid, "bash", command="cd src && export MARK=from-a")
    assert first.json()["exit_code"] == 0, first.text
    seen = _act(b.url, h, sid, "bash", command="pwd; echo $MARK; hostname").json()
    assert seen["step"] == 1 and seen["observation"].split()[:2] == ["/repo/src", "from-a"]
    assert httpx.get(f"{b.url}/v1/sessions/{sid}", headers=h).json()["steps"] == 2
    again = _act(a.url, h, sid, "bash", command="echo $MARK; pwd").json()
    assert again["observation"].split() == ["from-a", "/repo/src"] and again["step"] == 2

    with ThreadPoolExecutor(2) as pool:  # one action at a time, across both processes
        slow = pool.submit(_act, a.url, h, sid, "bash", command="sleep 3; echo slow")
        time.sleep(1.0)
        fast = pool.submit(_act, b.url, h, sid, "bash", command="echo fast")
        assert fast.result().status_code == 409 and "running" in fast.result().json()["detail"]
        assert fast.result().headers["Retry-After"] == "1"
        assert slow.result().json()["observation"].strip() == "slow"

    fixed = _act(b.url, h, sid, "edit", path=CALC_PATH, old_str=BAD, new_str=GOOD).json()
    assert fixed["exit_code"] == 0

    a.stop()  # an API process restarts: the session lives in the registry and the engine
    a2 = ApiProcess(a.env, tmp_path / "api1-restarted.log")
    try:
        a2.wait()
        cont = _act(a2.url, h, sid, "bash", command="echo $MARK; grep -c 'len(values)' minipkg/calc.py").json()
        assert cont["observation"].split()[0] == "from-a" and cont["exit_code"] == 0
        other, _ = tokens.create("other", "write")
        assert httpx.get(f"{a2.url}/v1/sessions/{sid}", headers={"Authorization": f"Bearer {other}"}
                         ).status_code == 404
        judged = httpx.post(f"{a2.url}/v1/sessions/{sid}/submit", headers=h, timeout=600)
        assert judged.status_code == 200 and judged.json()["resolved"] is True, judged.text
    finally:
        a2.stop()
    traj = httpx.get(f"{b.url}/v1/trajectories/{judged.json()['trajectory_id']}", headers=h).json()
    assert traj["agent"] == "session" and len(traj["turns"]) == 6 and traj["reward"]["resolved"] is True


def test_a_container_killed_underneath_ends_the_session_failed_on_the_other_process(
        two_apis: list[ApiProcess], minipkg_build: Any, runtime: Any) -> None:
    task_id = _task_rows(minipkg_build, runtime)
    token, _ = tokens.create("dist", "write")
    h = {"Authorization": f"Bearer {token}"}
    a, b = two_apis
    sid = httpx.post(f"{a.url}/v1/sessions", headers=h, json={"task_id": task_id}, timeout=300).json()["id"]
    assert _act(a.url, h, sid, "bash", command="true").json()["exit_code"] == 0
    subprocess.run(["docker", "kill", f"forager-{sid}"], check=True, capture_output=True)
    dead = _act(b.url, h, sid, "bash", command="true")
    assert dead.status_code == 409 and "failed" in dead.json()["detail"], dead.text
    shown = httpx.get(f"{a.url}/v1/sessions/{sid}", headers=h).json()
    assert shown["state"] == "failed" and "container" in shown["end_reason"]
    assert _act(a.url, h, sid, "bash", command="true").status_code == 409
    gone = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=forager-{sid}"], capture_output=True,
                          text=True)
    assert gone.stdout.strip() == ""  # the dead container was removed too
