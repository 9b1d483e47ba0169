"""Listings never show credentials of a source URL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from forager.cli.main import app
from forager.store import db

SOURCE = "https://user:hunter2@git.example/repo.git?token=s3cr3t"


@pytest.fixture(autouse=True)
def no_reaper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("forager.jobs.reaper.reap", lambda: None)


def test_image_sources_are_redacted() -> None:
    with db.session() as s:
        s.add(db.Build(id="build-1", source=SOURCE, status="validated"))
        s.flush()
        s.add(db.Image(id="forager/repo:abc", build_id="build-1", digest="", source=SOURCE, commit="abc",
                       python="3.11", test_command="pytest"))
    for args in (["images", "list", "--json"], ["images", "show", "forager/repo:abc"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "hunter2" not in result.stdout and "s3cr3t" not in result.stdout
        shown = json.loads(result.stdout)
        source = shown[0]["source"] if isinstance(shown, list) else shown["source"]
        assert source == "https://***@git.example/repo.git?token=***"
    table = CliRunner().invoke(app, ["images", "list"], env={"COLUMNS": "300"})
    assert table.exit_code == 0 and "hunter2" not in table.stdout


def test_trajectory_repositories_are_redacted() -> None:
    with db.session() as s:
        s.add(db.Trajectory(id="traj-1", repository=SOURCE, path="/nowhere", steps=1))
    result = CliRunner().invoke(app, ["trajectories", "list", "--json"])
    [row] = json.loads(result.stdout)
    assert result.exit_code == 0 and row["repository"] == "https://***@git.example/repo.git?token=***"


def test_trajectories_newest_first_by_task_and_limit() -> None:
    from datetime import datetime

    with db.session() as s:
        for n, task in enumerate(["task-a", "task-b", "task-a"]):
            s.add(db.Trajectory(id=f"traj-{n}", task_id=task, path="/nowhere",
                                created_at=datetime(2025, 1, 1 + n)))

    def ids(*args: str) -> list[str]:
        result = CliRunner().invoke(app, ["trajectories", "list", "--json", *args])
        assert result.exit_code == 0
        return [row["id"] for row in json.loads(result.stdout)]

    assert ids() == ["traj-2", "traj-1", "traj-0"]
    assert ids("--task", "task-a") == ["traj-2", "traj-0"]
    assert ids("--limit", "1") == ["traj-2"]
