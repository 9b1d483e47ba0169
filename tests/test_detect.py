"""Static detection of Python version, dependencies and test command (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect import clean_requirement, detect
from forager.build.repair import plan_collection, plan_run
from forager.build.testrun import TestOutcome, TestRun, parse_report
from forager.runtime import ExecResult
from forager.text import truncate


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_pyproject_extras_groups_and_python(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": """
[project]
name = "demo"
requires-python = ">=3.12"
dependencies = ["requests>=2", "tomli; python_version < '3.11'"]
[project.optional-dependencies]
tests = ["hypothesis"]
docs = ["sphinx"]
[dependency-groups]
test = ["pytest-mock", {include-group = "lint"}]
lint = ["ruff", "freezegun"]
""",
        "tests/test_x.py": "def test_x(): pass\n",
    })
    r = detect(tmp_path)
    assert r.python == "3.13"  # 3.11 excluded by requires-python
    assert r.extras == ["tests"]
    assert "requests>=2" in r.deps and "hypothesis" in r.deps and "pytest-mock" in r.deps
    assert "freezegun" in r.deps  # through include-group
    assert not any(d.startswith(("tomli", "sphinx", "ruff")) for d in r.deps)  # marker false / tooling
    assert r.test_paths == ["tests"]
    assert r.deps[0] == "pytest"


def test_setup_py_setup_cfg_tox_requirements_and_ci(tmp_path: Path) -> None:
    write(tmp_path, {
        "setup.py": "from setuptools import setup\nTESTS = ['mock', 'nose']\n"
                    "setup(name='old', tests_require=TESTS, extras_require={'testing': ['pyyaml']},\n"
                    "      classifiers=['Programming Language :: Python :: 3.8'])\n",
        "setup.cfg": "[options]\ninstall_requires =\n    six\n",
        "tox.ini": "[testenv]\ndeps =\n    pytest-cov\n    py38: backports.zoneinfo\n    -rrequirements-extra.txt\n",
        "requirements-test.txt": "responses\n",
        "requirements-extra.txt": "attrs\n",
        "requirements-docs.txt": "sphinx\n",
        ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install -e .[testing] "
                                    "freezegun\n      - run: pytest\n",
        "test/test_a.py": "def test_a(): pass\n",
    })
    r = detect(tmp_path)
    assert r.python == "3.9"  # classifiers stop at 3.8, no requires-python
    for dep in ("mock", "six", "pyyaml", "pytest-cov", "freezegun"):
        assert any(d.startswith(dep) for d in r.deps), dep
    assert r.deps[0] == "pytest<8"  # nose-style suites need pytest < 8
    assert "requirements-test.txt" in r.requirement_files
    assert "requirements-extra.txt" in r.requirement_files
    assert "requirements-docs.txt" not in r.requirement_files
    assert r.extras == ["testing"]
    assert r.test_paths == ["test"]


def test_testpaths_config_means_plain_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"pytest.ini": "[pytest]\ntestpaths = src\n", "tests/test_x.py": ""})
    assert detect(tmp_path).test_paths == []


def test_clean_requirement() -> None:
    assert clean_requirement("requests>=2 # comment") == "requests>=2"
    assert clean_requirement("-e .") is None
    assert clean_requirement("black") is None
    assert clean_requirement("not a requirement !!") is None


def test_repair_plans_from_collection_output(tmp_path: Path) -> None:
    (tmp_path / "localmod").mkdir()
    from forager.build.detect import Recipe

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
    from forager.build.detect import Recipe

    recipe = Recipe()
    out = "____ ERROR collecting tests/test_bad.py ____\nSyntaxError\nERROR tests/test_bad.py - SyntaxError\n"
    fixes = plan_collection(out, recipe, Path("/nonexistent"))
    assert [(f.kind, f.value) for f in fixes] == [("imports-of", "tests/test_bad.py")]
    recipe.repairs.append({"fix": "imports-of", "value": "tests/test_bad.py"})  # tried, did not help
    fixes = plan_collection(out, recipe, Path("/nonexistent"))
    assert [(f.kind, f.value) for f in fixes] == [("ignore", "tests/test_bad.py")]


def test_repair_plans_from_run_failures() -> None:
    from forager.build.detect import Recipe

    run = TestRun(ExecResult(1, "", 1.0), {
        "t::a": TestOutcome("t::a", "error", message="fixture 'mocker' not found"),
        "t::b": TestOutcome("t::b", "failed", message="async def functions are not natively supported"),
    })
    values = {f.value for f in plan_run(run, Recipe(), Path('/nonexistent'))}
    assert {"pytest-mock", "pytest-asyncio", "-o asyncio_mode=auto"} <= values


def test_parse_report_keeps_valid_lines_of_a_killed_run() -> None:
    text = '{"id": "a", "outcome": "passed", "duration": 0.1}\n{"id": "b", "outco'
    results = parse_report(text)
    assert list(results) == ["a"] and results["a"].outcome == "passed"


def test_truncate_keeps_head_and_tail() -> None:
    text = "A" * 1000 + "B" * 1000
    out = truncate(text, 100)
    assert out.startswith("A") and out.endswith("B") and "elided" in out and len(out) < 200


def test_requirement_files_for_other_pythons_and_docs_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, {
        "requirements/3.3/requirements-dev.txt": "pytest<3.3\n",
        "requirements/py311.txt": "attrs\n",
        "docs/requirements-docs.txt": "sphinx\n",
        "requirements-dev.txt": "freezegun\n",
        "tox.ini": "[testenv]\ndeps = -rdocs/requirements-docs.txt\n",
        "tests/test_x.py": "",
    })
    files = detect(tmp_path).requirement_files
    assert "requirements-dev.txt" in files and "requirements/py311.txt" in files
    assert not any("3.3" in f or "docs" in f for f in files)


def test_broken_pytest_is_upgraded_before_anything_else(tmp_path: Path) -> None:
    from forager.build.detect import Recipe

    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/_pytest/main.py", line 13, in <module>\n'
           "    from collections import MutableMapping as MappingMixin\n"
           "ImportError: cannot import name 'MutableMapping' from 'collections'\n"
           "During handling of the above exception, another exception occurred:\n"
           '  File "/opt/venv/lib/python3.11/site-packages/_pytest/compat.py", line 3, in <module>\n'
           "ModuleNotFoundError: No module named 'UserDict'\n")
    fixes = plan_collection(out, Recipe(), tmp_path)
    assert [(f.kind, f.value) for f in fixes] == [("install", "pytest>=7")]


def test_tox_envlist_of_old_pythons_picks_the_oldest_base(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py27, py36, py38\n", "setup.py": "", "tests/test_x.py": ""})
    assert detect(tmp_path).python == "3.9"
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py38, py311\n"})
    assert detect(tmp_path).python == "3.11"


def test_conftest_written_for_an_older_pytest_downgrades_it(tmp_path: Path) -> None:
    from forager.build.detect import Recipe

    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/pluggy/_manager.py", line 448, in _verify_hook\n'
           "pluggy._manager.PluginValidationError: Plugin '/repo/tests/conftest.py' for hook "
           "'pytest_ignore_collect'\nArgument(s) {'path'} are declared in the hookimpl\n")
    assert [f.kind for f in plan_collection(out, Recipe(), tmp_path)] == ["pytest-downgrade"]


def test_coverage_plugin_failing_at_start_is_turned_off(tmp_path: Path) -> None:
    from forager.build.detect import Recipe

    out = ("Traceback (most recent call last):\n"
           '  File "/opt/venv/lib/python3.11/site-packages/pytest_cov/engine.py", line 241, in start\n'
           '  File "/usr/lib/python3.11/threading.py", line 1465, in currentThread\n'
           "DeprecationWarning: currentThread() is deprecated\n")
    assert [(f.kind, f.value) for f in plan_collection(out, Recipe(), tmp_path)] == [("arg", "--no-cov")]


def test_sdist_version_is_kept_for_vcs_versioned_builds(tmp_path: Path) -> None:
    write(tmp_path, {"PKG-INFO": "Metadata-Version: 2.1\nName: pluggy\nVersion: 1.5.0\n", "tests/test_x.py": ""})
    assert detect(tmp_path).env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "1.5.0"


def test_pytest_deprecations_made_errors_are_allowed(tmp_path: Path) -> None:
    from forager.build.detect import Recipe

    out = ("E   pytest.PytestRemovedIn10Warning: Passing a non-Collection iterable to parametrize\n"
           "ERROR tests/test_isoparser.py - pytest.PytestRemovedIn10Warning: Passing a no...\n")
    values = [f.value for f in plan_collection(out, Recipe(), tmp_path)]
    assert values == ["-W ignore::DeprecationWarning", "-W ignore::PendingDeprecationWarning"]


def test_unittest_files_outside_pytest_name_patterns_are_named_explicitly(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": "", "src/decorator.py": "", "src/tests/__init__.py": "",
                     "src/tests/test.py": "import unittest\n", "src/tests/documentation.py": ""})
    assert detect(tmp_path).test_paths == ["src/tests/documentation.py", "src/tests/test.py"]



def test_an_uncollectable_file_is_left_out_after_its_imports_were_tried(tmp_path: Path) -> None:
    from forager.build.detect import Recipe

    out = ("E   pytest.PytestCollectionWarning: cannot collect test class 'TestSuite' because it has a "
           "__init__ constructor\nERROR tests/test_x.py::TestSuite - pytest.Pyt...\n")
    recipe = Recipe()
    assert [f.kind for f in plan_collection(out, recipe, tmp_path)] == ["imports-of"]
    recipe.repairs.append({"fix": "imports-of", "value": "tests/test_x.py", "found": []})
    assert [(f.kind, f.value) for f in plan_collection(out, recipe, tmp_path)] == [("ignore", "tests/test_x.py")]
