"""What dead processes leave behind is reaped when the next process starts: builds of dead owners
failed, and a CLI build killed with SIGKILL ended and its containers removed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forager import jobs
from forager.build import builder
from forager.store import db

FORAGER = str(Path(sys.executable).parent / "forager")


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_reap_dead_owners_fails_only_dead_processes_builds() -> None:
    host = socket.gethostname()
    with db.session() as s:
        s.add(db.Build(id="build-dead", source="x", status="running", owner=f"{host}:{dead_pid()}"))
        s.add(db.Build(id="build-live", source="x", status="running", owner=builder.owner()))
        s.add(db.Build(id="build-other-host", source="x", status="running", owner="elsewhere:1"))
        s.add(db.Build(id="build-done", source="x", status="validated", owner=f"{host}:{dead_pid()}"))
    reaped = builder.reap_dead_owners()
    assert reaped["builds"] == ["build-dead"]
    assert builder.reap_dead_owners()["builds"] == []  # idempotent
    with db.session() as s:
        status = {b.id: (b.status, b.error) for b in s.query(db.Build)}
    assert status == {"build-dead": ("failed", builder.INTERRUPTED), "build-live": ("running", None),
                      "build-other-host": ("running", None), "build-done": ("validated", None)}


@pytest.mark.docker
def test_kill_9_of_a_cli_build_is_reaped(runtime, tmp_path: Path, forager_home: Path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "slow"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    (repo / "setup.py").write_text("import time\nfrom setuptools import setup\ntime.sleep(600)\n"
                                   "setup(name='slow', version='0.1', py_modules=[])\n")
    proc = subprocess.Popen([FORAGER, "build", str(repo)], env={**os.environ, "FORAGER_HOME": str(forager_home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    containers: list = []
    while time.monotonic() < deadline and not containers:
        time.sleep(1)
        containers = runtime.client.containers.list(
            filters={"label": [f"{builder.OWNER_LABEL}={socket.gethostname()}:{proc.pid}", "forager.role=build-repo"]})
        assert proc.poll() is None, "the build ended before it could be killed"
    assert containers, "the build never reached its repository layer"
    build_id = containers[0].labels[builder.BUILD_LABEL]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with db.session() as s:
        assert s.get(db.Build, build_id).status == "running"  # type: ignore[union-attr]
    try:
        reaped = jobs.recover_on_start()
    finally:
        jobs.shutdown_embedded()
    assert reaped["builds_failed"] == 1 and reaped["build_containers"] >= 1
    with db.session() as s:
        row = s.get(db.Build, build_id)
        assert row is not None and row.status == "failed" and row.error == builder.INTERRUPTED
    assert not runtime.client.containers.list(all=True, filters={"label": f"{builder.BUILD_LABEL}={build_id}"})
    assert not runtime.client.volumes.list(filters={"label": f"forager.pip-overlay=forager-{build_id}-repo"})
