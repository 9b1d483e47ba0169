"""Shared by the task tests: a small patch and candidate, the minipkg image as FORAGER_HOME, and an
independent check of a stored task in a fresh container."""

from __future__ import annotations

import pytest

from forager.build.testrun import run_tests
from forager.config import reset_settings
from forager.store import db
from forager.tasks.candidates import Candidate

PATCH = """\
diff --git a/src/pkg/mod.py b/src/pkg/mod.py
--- a/src/pkg/mod.py
+++ b/src/pkg/mod.py
@@ -1,3 +1,3 @@
 def total(values):
-    return sum(values) + 0
+    return sum(values) - 0
"""


def cand() -> Candidate:
    gold = PATCH.replace("-    return sum(values) + 0", "-    return sum(values) - 0 #").replace(
        "+    return sum(values) - 0", "+    return sum(values) + 0").replace(" #", "")
    return Candidate("mutate-fix", "d", "operators", "src/pkg/mod.py", "total", PATCH, gold)


@pytest.fixture(name="minipkg_home")
def minipkg_home_fixture(minipkg_build, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FORAGER_HOME", str(minipkg_build.home))
    reset_settings()
    """The minipkg image id, with FORAGER_HOME set to the registry it was built in."""
    return str(minipkg_build.image)


def check_task_in_fresh_container(runtime, task: db.Task, test_command: str) -> None:  # type: ignore[no-untyped-def]
    """Independently of the generator: the setup patch breaks FAIL_TO_PASS, the gold patch mends them."""
    with runtime.start(task.image_id) as box:
        box.put_files({"/tmp/setup.patch": task.setup_patch.encode(),
                       "/tmp/gold.patch": task.gold_patch.encode()})
        assert box.exec("git apply /tmp/setup.patch", 60, workdir="/repo").ok
        broken = run_tests(box, test_command, timeout=300, test_ids=task.fail_to_pass)
        assert all(broken.outcome(t) != "passed" for t in task.fail_to_pass)
        assert box.exec("git apply /tmp/gold.patch", 60, workdir="/repo").ok
        fixed = run_tests(box, test_command, timeout=300, test_ids=task.fail_to_pass + task.pass_to_pass)
        assert all(fixed.outcome(t) == "passed" for t in task.fail_to_pass + task.pass_to_pass)


def image_test_command(image: str) -> str:
    with db.session() as s:
        img = s.get(db.Image, image)
        assert img is not None
        return img.test_command
