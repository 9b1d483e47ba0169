"""Whole episodes through run_episode and ``forager run``: crashes and signals leave incomplete
trajectories and no container; the server's model key goes only to trusted endpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_model import FakeModel
from minipkg_task import _containers

CHILD = """
import sys
from forager.episode.run import run_episode
run_episode(sys.argv[1], model_url=sys.argv[2], model_name="m")
"""


def test_crash_mid_episode_leaves_incomplete_trajectory(task: Any) -> None:
    from forager.episode.reaper import reap_orphans
    from forager.store import db
    from forager.trajectory.store import load

    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"delay": 60, "tool_calls": [("submit", {})]}]
    before = _containers()
    with FakeModel(script) as fake:
        child = subprocess.Popen([sys.executable, "-c", CHILD, task.id, fake.url], env=dict(os.environ),
                                 cwd=Path(__file__).parents[2])
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(fake.requests) < 2:
                time.sleep(0.2)
            assert len(fake.requests) == 2, "the episode never reached its second model call"
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id).one()
    loaded = load(row.id)
    assert loaded.error is None  # the file is whole ...
    assert not loaded.trajectory.complete and not row.complete  # ... and says it is incomplete
    assert loaded.trajectory.turns[0].observation.strip() == "first"
    assert _containers() - before, "a SIGKILLed episode's container is left for the reaper"
    removed = reap_orphans()
    assert removed and not _containers() - before


def test_cli_run_json_and_sigterm(task: Any) -> None:
    from forager.trajectory.store import load

    forager = [sys.executable, "-m", "forager.cli"]
    done = subprocess.run([*forager, "run", task.id, "--agent", "oracle", "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {"trajectory_id", "task_id", "resolved", "steps", "duration_s", "exit_reason"}
    assert summary["resolved"] is True and summary["steps"] == 3

    bad = subprocess.run([*forager, "run", "task-nope", "--agent", "oracle"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no task" in bad.stderr

    before = _containers()
    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"tool_calls": [("bash", {"command": "sleep 120"})]}]
    with FakeModel(script) as fake:
        child = subprocess.Popen([*forager, "run", task.id, "--model", fake.url, "--model-name", "m",
                                  "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) < 2:
            time.sleep(0.2)
        time.sleep(1.0)  # inside the hung command now
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert not _containers() - before  # removed on the way out
    from forager.store import db

    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id, agent="llm").one()
    loaded = load(row.id)
    assert not loaded.trajectory.complete and loaded.trajectory.exit_reason == "interrupted"
    assert loaded.trajectory.turns[0].observation.strip() == "first"


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"content": f"Next: {name}.", "tool_calls": [(name, args)]}


def test_server_model_key_goes_only_to_trusted_endpoints(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on a caller-chosen endpoint carried FORAGER_MODEL_API_KEY there; now only trusted
    endpoints (FORAGER_MODEL_URL, FORAGER_MODEL_ENDPOINTS) get it, others the caller's key or none."""
    from forager.config import reset_settings
    from forager.episode.run import run_episode

    monkeypatch.setenv("FORAGER_MODEL_API_KEY", "server-secret")
    monkeypatch.setenv("FORAGER_MODEL_URL", "http://127.0.0.1:9/v1")
    reset_settings()
    seen = []
    for caller_key, trusted in ((None, False), ("caller-key", False), (None, True)):
        with FakeModel([call("submit", {})]) as fake:
            if trusted:
                monkeypatch.setenv("FORAGER_MODEL_ENDPOINTS", fake.url)
                reset_settings()
            run_episode(task.id, agent="llm", model_url=fake.url, model_name="m", api_key=caller_key)
            seen.append(fake.requests[0]["auth"])
    assert seen == [None, "Bearer caller-key", "Bearer server-secret"]

