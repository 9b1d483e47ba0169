"""What the API tests share: a client of a fresh app with a token of each scope, and trajectories
to upload. Each test module wraps ``open_api`` in its own ``api`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forager.api.app import create_app
from forager.store import db, tokens
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "api" / "examples"
JSON = {"Content-Type": "application/json"}
GOLD = "diff --git a/gold.py b/gold.py\n+GOLD_PATCH_MARKER = 1\n"
SECRET_SOURCE = "https://deploy:s3cr3t-pass@git.example.org/org/private.git"


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    write: dict[str, str]
    admin: dict[str, str]


def auth(scope: str) -> dict[str, str]:
    """Headers carrying a new token of ``scope``."""
    token, _ = tokens.create(f"test-{scope}", scope)
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def open_api() -> Iterator[Api]:
    with TestClient(create_app()) as client:
        yield Api(client, auth("read"), auth("write"), auth("admin"))


def make_traj(n_turns: int = 2, resolved: bool = True, task_id: str = "task-x") -> Trajectory:
    turns = [
        Turn(
            index=i,
            model_message=f"step {i} ünïcode ✓",
            action=Action(tool="bash", args={"cmd": f"ls {i}"}),
            observation="out\n" * i,
            exit_code=0,
            duration_s=0.5,
        )
        for i in range(n_turns)
    ]
    return Trajectory(
        task_id=task_id,
        image="forager/minipkg:abc",
        repository="minipkg",
        kind="mutate-fix",
        model=ModelInfo(name="scripted", url="http://127.0.0.1:1/v1"),
        problem_statement="fix it",
        turns=turns,
        final_diff="--- a\n+++ b\n",
        exit_reason="submitted",
        reward=Reward(resolved=resolved, fail_to_pass={"t::a": "passed"}),
        duration_s=3.0,
    )


def traj(**fields: object) -> Trajectory:
    """A short resolved trajectory whose final diff is the GOLD patch; ``fields`` override."""
    turns = [Turn(index=0, model_message="look", action=Action(tool="bash", args={"command": "ls"}),
                  observation="a.py\n", exit_code=0)]
    base = {"task_id": "task-t", "repository": "minipkg", "kind": "mutate-fix", "model": ModelInfo(name="m"),
            "problem_statement": "fix", "turns": turns, "final_diff": GOLD, "exit_reason": "submitted",
            "reward": Reward(resolved=True)}
    return Trajectory(**{**base, **fields})  # type: ignore[arg-type]


def n_trajectories() -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(db.Trajectory)) or 0


def stored_files(home: Path) -> list[Path]:
    return [p for p in (home / "trajectories").rglob("*") if p.is_file()]
