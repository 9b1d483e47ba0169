"""The minipkg task over the LocalRuntime (host directories, no Docker engine): ``local_task`` gives
a runtime with the fixture package as image ``local/minipkg`` (a git work tree) and the task row
(``mean`` broken by the setup patch) in this test's registry.

The LocalRuntime is NOT a sandbox: only scripted actions run here, never a real model's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from minipkg_task import BROKEN, CALC, CALC_PATH, F2P, FIXTURES, P2P, udiff

from forager.runtime.local import LocalRuntime

IMAGE = "local/minipkg"
TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider"
ENV = {"PYTHONPATH": "src", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
"""The image's test environment: the package from src, none of the host's pytest plugins (fast)."""


@dataclass
class LocalTask:
    id: str
    runtime: LocalRuntime


def git_image(dest: Path) -> Path:
    """The fixture package as a committed git work tree (what an image's /repo is)."""
    shutil.copytree(FIXTURES / "minipkg", dest)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*git, "-C", str(dest), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(dest), "commit", "-q", "-m", "minipkg"], check=True)
    return dest


@pytest.fixture
def local_task(tmp_path: Path) -> Any:
    from forager.store import db

    runtime = LocalRuntime(images={IMAGE: git_image(tmp_path / "image")}, root=tmp_path / "sandboxes")
    (tmp_path / "sandboxes").mkdir(exist_ok=True)
    with db.session() as s:
        s.add(db.Build(id="build-local", source="local:minipkg", status="validated", image=IMAGE,
                       test_command=TEST_COMMAND))
        s.flush()
        s.add(db.Image(id=IMAGE, build_id="build-local", digest="local:digest", source="local:minipkg",
                       python="3.11", test_command=TEST_COMMAND, recipe={"env": ENV}))
        s.flush()
        row = db.Task(kind="mutate-fix", image_id=IMAGE, setup_patch=udiff(CALC, BROKEN, CALC_PATH),
                      gold_patch=udiff(BROKEN, CALC, CALC_PATH), fail_to_pass=F2P, pass_to_pass=P2P,
                      problem_statement="mean() returns the wrong value")
        s.add(row)
        s.flush()
        task_id = row.id
    yield LocalTask(task_id, runtime)
    for box in list(runtime.sandboxes.values()):
        box.remove()
