"""Lint items of pytest plugins (pytest-ruff, pytest-mypy, …) that fail or error switch their
plugin off; the repository's own tests never do (no Docker). Seen on inflect 7.3.0 (2024-06):
pytest-ruff 0.3's items assert at setup under ``-p no:cacheprovider``, 28 errors of 249, pass rate
89%, and the build failed."""

from __future__ import annotations

from pathlib import Path

from forager.build.recipe import Recipe
from forager.build.repair.lint import lint_fixes, lint_plugin
from forager.build.repair.plan import plan_run
from forager.build.testrun import TestOutcome, TestRun
from forager.runtime import ExecResult

RUFF_SETUP = ("    def get_stash(config):\n>       assert stash is not missing\n"
              "E       assert <object object at 0x7f> is not <object object at 0x7f>\n"
              "/opt/venv/lib/python3.11/site-packages/pytest_ruff/_pytest_compat.py:41: AssertionError")


def _inflect_like_run() -> TestRun:
    results = {}
    for i in range(14):
        for tail in ("ruff", "ruff::format"):
            tid = f"tests/test_{i}.py::{tail}"
            results[tid] = TestOutcome(tid, "error", message=RUFF_SETUP)
    for i in range(221):
        tid = f"tests/test_pwd.py::test_{i}"
        results[tid] = TestOutcome(tid, "passed")
    results["tests/test_pwd.py::mypy"] = TestOutcome("tests/test_pwd.py::mypy", "passed")
    return TestRun(ExecResult(1, "221 passed, 28 errors", 20.0), results)


def test_failing_lint_items_switch_their_plugin_off(tmp_path: Path) -> None:
    fixes = plan_run(_inflect_like_run(), Recipe(), tmp_path)
    assert [(f.kind.value, f.value) for f in fixes] == [("arg", "-p no:ruff")]  # mypy's item passed: kept
    recipe = Recipe(repairs=[{"fix": "arg", "value": "-p no:ruff"}])
    assert plan_run(_inflect_like_run(), recipe, tmp_path) == []  # tried once


def test_lint_items_are_told_from_tests() -> None:
    assert lint_plugin("src/pkg/mod.py::mypy") == "mypy"
    assert lint_plugin("mypy.py::mypy-status") == "mypy"
    assert lint_plugin("setup.py::flake-8::FLAKE8") == "flake8"
    assert lint_plugin("tests/test_a.py::BLACK") == "black"
    assert lint_plugin("tests/test_a.py::ruff::format") == "ruff"
    for test in ("tests/test_colors.py::test_black", "tests/test_a.py::test_x[ruff]", "tests/ruff.py",
                 "tests/test_fmt.py::TestFormat::test_format", "tests/test_lint.py::test_isort_config"):
        assert lint_plugin(test) is None
    failing = TestRun(ExecResult(1, "", 1.0), {"t.py::test_black": TestOutcome("t.py::test_black", "failed")})
    assert lint_fixes(failing) == []
