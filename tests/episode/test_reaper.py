"""What a SIGKILLed episode leaves is reaped by the next Forager command."""

from __future__ import annotations

from typing import Any

from fake_model import FakeModel
from minipkg_task import _containers


def test_sigkilled_run_is_reaped_by_the_next_command(task: Any) -> None:
    """kill -9 of ``forager run`` left its container and a trajectory 'running' forever; the
    next Forager command now removes the one and ends the other as interrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from forager.store import db
    from forager.trajectory.store import load

    forager = [sys.executable, "-m", "forager.cli"]
    before = _containers()
    script = [{"tool_calls": [("bash", {"command": "echo first"})]},
              {"tool_calls": [("bash", {"command": "sleep 120"})]}]
    with FakeModel(script) as fake:
        child = subprocess.Popen([*forager, "run", task.id, "--model", fake.url, "--model-name", "m"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests) < 2:
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    left = _containers() - before
    assert left, "the killed run left no container: nothing to reap (the test proves nothing)"
    with db.session() as s:
        row = s.query(db.Trajectory).filter_by(task_id=task.id).one()
    assert load(row.id).trajectory.exit_reason == "running"

    done = subprocess.run([*forager, "trajectories", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not _containers() & left
    after = load(row.id).trajectory
    assert after.exit_reason == "interrupted" and not after.complete and "died" in after.meta["error"]

