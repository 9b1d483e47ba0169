"""A candidate whose fix the judge would flag is never made a task: the agent's fix of a module
pytest itself imports (iniconfig's own package in its image) is dropped by the judge, so such a
task could never be resolved — the Celery slice's oracle episode of iniconfig 2.3.1 was not."""

from __future__ import annotations

from forager.enums import TaskKind
from forager.tasks.candidates import Candidate
from forager.tasks.generate import judge_would_flag

HISTORY_PATCH = """diff --git a/src/pkg/core.py b/src/pkg/core.py
--- a/src/pkg/core.py
+++ b/src/pkg/core.py
@@ -1 +1 @@
-a = 1
+a = 2
diff --git a/conftest.py b/conftest.py
--- a/conftest.py
+++ b/conftest.py
@@ -1 +1 @@
-x = 1
+x = 2
"""


def test_fixes_the_judge_would_flag_are_known_before_any_run() -> None:
    shadow = Candidate(TaskKind.MUTATE_FIX, "swap", path="src/iniconfig/__init__.py")
    assert "module shadowing the test runner (iniconfig)" in judge_would_flag(shadow)
    assert judge_would_flag(Candidate(TaskKind.MUTATE_FIX, "swap", path="src/minipkg/calc.py")) == ""
    history = Candidate(TaskKind.FROM_HISTORY, "commit", gold_patch=HISTORY_PATCH)
    assert "conftest.py" in judge_would_flag(history)
    code_only = HISTORY_PATCH.split("diff --git a/conftest")[0]
    assert judge_would_flag(Candidate(TaskKind.FROM_HISTORY, "c", gold_patch=code_only)) == ""
