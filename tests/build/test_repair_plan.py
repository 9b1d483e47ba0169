"""Repair plans read from pytest's output (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.recipe import Recipe
from forager.build.repair.plan import plan_collection, plan_run
from forager.build.testrun import TestOutcome, TestRun
from forager.runtime import ExecResult


def test_repair_plans_from_collection_output(tmp_path: Path) -> None:
    (tmp_path / "localmod").mkdir()
    out = ("E   ModuleNotFoundError: No module named 'yaml'\n"
           "E   ModuleNotFoundError: No module named 'localmod'\n"
           "__main__.py: error: unrecognized arguments: --cov=demo --flake8\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --cov=demo --flake8 -ra\n")
    fixes = plan_collection(out, Recipe(), tmp_path)
    kinds = {(f.kind, f.value) for f in fixes}
    assert ("install", "PyYAML") in kinds
    assert ("install", "pytest-cov") in kinds
    assert not any(f.value == "localmod" for f in fixes)
    assert any(f.kind == "arg" and "--flake8" not in f.value and "-ra" in f.value for f in fixes)


def test_repair_ignores_uncollectable_files_when_nothing_else_helps() -> None:
    recipe = Recipe()
    out = "____ ERROR collecting tests/test_bad.py ____\nSyntaxError\nERROR tests/test_bad.py - SyntaxError\n"
    fixes = plan_collection(out, recipe, Path("/nonexistent"))
    assert [(f.kind, f.value) for f in fixes] == [("imports-of", "tests/test_bad.py")]
    recipe.repairs.append({"fix": "imports-of", "value": "tests/test_bad.py"})  # tried, did not help
    fixes = plan_collection(out, recipe, Path("/nonexistent"))
    assert [(f.kind, f.value) for f in fixes] == [("ignore", "tests/test_bad.py")]


def test_repair_plans_from_run_failures() -> None:
    run = TestRun(ExecResult(1, "", 1.0), {
        "t::a": TestOutcome("t::a", "error", message="fixture 'mocker' not found"),
        "t::b": TestOutcome("t::b", "failed", message="async def functions are not natively supported"),
    })
    values = {f.value for f in plan_run(run, Recipe(), Path('/nonexistent'))}
    assert {"pytest-mock", "pytest-asyncio", "-o asyncio_mode=auto"} <= values


def test_broken_pytest_is_upgraded_before_anything_else(tmp_path: Path) -> None:
    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/_pytest/main.py", line 13, in <module>\n'
           "    from collections import MutableMapping as MappingMixin\n"
           "ImportError: cannot import name 'MutableMapping' from 'collections'\n"
           "During handling of the above exception, another exception occurred:\n"
           '  File "/opt/venv/lib/python3.11/site-packages/_pytest/compat.py", line 3, in <module>\n'
           "ModuleNotFoundError: No module named 'UserDict'\n")
    fixes = plan_collection(out, Recipe(), tmp_path)
    assert [(f.kind, f.value) for f in fixes] == [("install", "pytest>=7")]


def test_conftest_written_for_an_older_pytest_downgrades_it(tmp_path: Path) -> None:
    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/pluggy/_manager.py", line 448, in _verify_hook\n'
           "pluggy._manager.PluginValidationError: Plugin '/repo/tests/conftest.py' for hook "
           "'pytest_ignore_collect'\nArgument(s) {'path'} are declared in the hookimpl\n")
    assert [f.kind for f in plan_collection(out, Recipe(), tmp_path)] == ["pytest-downgrade"]


def test_coverage_plugin_failing_at_start_is_turned_off(tmp_path: Path) -> None:
    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/pytest_cov/engine.py", line 241, in start\n'
           '  File "/usr/lib/python3.11/threading.py", line 1465, in currentThread\n'
           "DeprecationWarning: currentThread() is deprecated\n")
    assert [(f.kind, f.value) for f in plan_collection(out, Recipe(), tmp_path)] == [("arg", "--no-cov")]


def test_pytest_deprecations_made_errors_are_allowed(tmp_path: Path) -> None:
    out = ("E   pytest.PytestRemovedIn10Warning: Passing a non-Collection iterable to parametrize\n"
           "ERROR tests/test_isoparser.py - pytest.PytestRemovedIn10Warning: Passing a no...\n")
    values = [f.value for f in plan_collection(out, Recipe(), tmp_path)]
    assert values == ["-W ignore::DeprecationWarning", "-W ignore::PendingDeprecationWarning"]


def test_an_uncollectable_file_is_left_out_after_its_imports_were_tried(tmp_path: Path) -> None:
    out = ("E   pytest.PytestCollectionWarning: cannot collect test class 'TestSuite' because it has a "
           "__init__ constructor\nERROR tests/test_x.py::TestSuite - pytest.Pyt...\n")
    recipe = Recipe()
    assert [f.kind for f in plan_collection(out, recipe, tmp_path)] == ["imports-of"]
    recipe.repairs.append({"fix": "imports-of", "value": "tests/test_x.py", "found": []})
    assert [(f.kind, f.value) for f in plan_collection(out, recipe, tmp_path)] == [("ignore", "tests/test_x.py")]


def test_pkg_resources_missing_at_start_up_steps_setuptools_below_its_removal(tmp_path: Path) -> None:
    """An old pytest plugin (pytest-mypy-plugins 1.10, loguru in 2023) imports pkg_resources while
    pytest loads plugins; the base's setuptools (82+) no longer has it, so installing "setuptools"
    would change nothing."""
    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/_pytest/config/__init__.py", line 1346, in parse\n'
           '  File "/opt/venv/lib/python3.11/site-packages/pytest_mypy_plugins/collect.py", line 21, in <module>\n'
           "    import pkg_resources\n"
           "ModuleNotFoundError: No module named 'pkg_resources'\n")
    assert [(f.kind, f.value) for f in plan_collection(out, Recipe(), tmp_path)] == [("install", "setuptools<82")]


def test_a_collection_round_runs_only_when_the_first_run_shows_its_work() -> None:
    from forager.build.repository import needs_collection_round

    ok = {"t::a": TestOutcome("t::a", "passed"), "t::b": TestOutcome("t::b", "failed")}
    assert not needs_collection_round(TestRun(ExecResult(1, "1 failed, 1 passed", 1.0), ok))
    assert not needs_collection_round(TestRun(ExecResult(0, "", 1.0), {"t::a": ok["t::a"]}))
    assert needs_collection_round(None)  # the run could not finish
    assert needs_collection_round(TestRun(ExecResult(1, "Traceback ...", 1.0), {}))  # pytest did not start
    assert needs_collection_round(TestRun(ExecResult(2, "", 1.0), {
        **ok, "tests/test_x.py": TestOutcome("tests/test_x.py", "error", collection=True)}))
    assert needs_collection_round(TestRun(ExecResult(4, "error: unrecognized arguments: --cov", 1.0), ok))
    assert needs_collection_round(TestRun(ExecResult(1, "PytestConfigWarning: Unknown config option: env", 1.0), ok))


def test_a_missing_module_named_like_one_of_the_projects_extras_installs_that_extra(tmp_path: Path) -> None:
    """cattrs' tests import bson, which its ``bson`` extra provides through pymongo; the ``bson``
    distribution on the index is an unrelated project."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[project.optional-dependencies]\n'
        'bson = ["pymongo>=4.4.0"]\nmsgpack = ["msgpack>=1.0.5"]\n')
    out = ("E   ModuleNotFoundError: No module named 'bson'\n"
           "E   ModuleNotFoundError: No module named 'msgpack'\n"
           "E   ModuleNotFoundError: No module named 'ujson'\n")
    values = [f.value for f in plan_collection(out, Recipe(), tmp_path)]
    assert values == ["pymongo>=4.4.0", "msgpack>=1.0.5", "ujson"]
    assert [f.value for f in plan_collection("No module named 'bson'", Recipe(), tmp_path / "none")] == ["pymongo"]
