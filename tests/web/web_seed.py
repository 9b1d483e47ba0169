"""A seeded registry for the viewer's tests: builds, images, tasks, jobs and runs over five days."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import uvicorn
from fastapi import FastAPI

from forager.store import db
from forager.trajectory import store as trajectory
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn
from forager.web.app import router

DIFF = (
    "diff --git a/src/calc.py b/src/calc.py\n--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1,2 +1,2 @@\n"
    " def add(a, b):\n-    return a - b\n+    return a + b\n"
)


def make_app() -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


@contextmanager
def serve_viewer() -> Iterator[str]:
    """The viewer (``make_app``) over real HTTP on a free local port, for a browser; its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def sample(traj_id: str, steps: int = 6, resolved: bool = False) -> Trajectory:
    turns = []
    for i in range(steps):
        if i % 3 == 0:
            action = Action(tool="bash", args={"command": f"grep -rn add src  # {i}"})
            obs = "\n".join(f"src/calc.py:{n}: def add(a, b):  # hit {n}" for n in range(40 if i == 3 else 3))
            code = 0
        elif i % 3 == 1:
            action = Action(
                tool="edit",
                args={"path": "src/calc.py", "old_str": "return a - b", "new_str": "return a + b"},
            )
            obs, code = "The file src/calc.py was edited.", 0
        else:
            action = Action(tool="bash", args={"command": "python -m pytest -q tests"})
            obs, code = "F..\nFAILED tests/test_calc.py::test_add - assert -1 == 3\n1 failed, 2 passed", 1
        turns.append(
            Turn(
                index=i,
                model_message=f"Step {i}: I will look for needle{i}.",
                action=action,
                observation=obs,
                exit_code=code,
                duration_s=0.1 * i,
            )
        )
    turns.append(
        Turn(
            index=steps,
            model_message="<script>alert('x')</script> done",
            action=Action(tool="bash", args={"command": "git diff"}),
            observation=DIFF,
            exit_code=0,
        )
    )
    return Trajectory(
        id=traj_id,
        task_id="task-1",
        image="forager/minipkg:1",
        image_digest="sha256:" + "a" * 64,
        repository="minipkg",
        kind="mutate-fix",
        model=ModelInfo(name="scripted"),
        problem_statement="add() returns the wrong result.",
        turns=turns,
        final_diff=DIFF,
        reward=Reward(
            resolved=resolved,
            fail_to_pass={"tests/test_calc.py::test_add": "passed" if resolved else "failed"},
            pass_to_pass={
                "tests/test_text.py::test_upper": "passed",
                "tests/test_calc.py::test_sub": "passed",
            },
        ),
        exit_reason="submitted",
        duration_s=12.5,
    )


def seed_registry() -> dict[str, str]:
    """A registry with builds, images, tasks, jobs and runs over five days, one damaged trajectory
    file and one whose file is gone."""
    base = datetime(2025, 3, 1, 12, 0)
    with db.session() as s:
        s.add(db.Repository(id="repo-1", source="pypi:minipkg", name="minipkg", kind="pypi"))
        for d in range(5):
            for k in range(d + 1):
                status = "failed" if k == 0 and d % 2 else "validated"
                s.add(
                    db.Build(
                        id=f"build-{d}-{k}",
                        source="pypi:minipkg",
                        status=status,
                        created_at=base + timedelta(days=d),
                        duration_s=30.0 + k,
                    )
                )
        s.add(
            db.Image(
                id="forager/minipkg:1",
                build_id="build-0-0",
                digest="sha256:" + "a" * 64,
                source="pypi:minipkg",
                python="3.11",
                test_command="pytest",
            )
        )
        for d in range(5):
            s.add(
                db.Task(
                    id=f"task-{d}",
                    image_id="forager/minipkg:1",
                    kind="mutate-fix",
                    setup_patch="",
                    gold_patch="",
                    created_at=base + timedelta(days=d),
                )
            )
        s.add(db.Job(kind="run", state="succeeded"))
        s.add(db.Job(kind="build", state="failed"))
    ids = {}
    for d in range(5):
        tid = f"traj-day{d}"
        trajectory.save(sample(tid, resolved=d % 2 == 0))
        ids[f"day{d}"] = tid
    trajectory.save(sample("traj-damaged"))
    path = trajectory.stored_path("traj-damaged")
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(raw[: raw.index(b'"type": "turn"', raw.index(b'"index": 3')) - 20] + b'\n{"type": "tu')
    trajectory.save(sample("traj-gone", steps=2))
    trajectory.stored_path("traj-gone").unlink()
    with db.session() as s:
        for d in range(5):
            s.get(db.Trajectory, f"traj-day{d}").created_at = base + timedelta(days=d)
    return ids
