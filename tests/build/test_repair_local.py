"""Local first: a module that exists in the repository is never installed from an index; its
folder goes on PYTHONPATH, the way the repository's own configuration does it."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipeline import detect
from forager.build.detect.project_files import ProjectFiles
from forager.build.recipe import Recipe
from forager.build.repair.local import configured_paths, local_dir
from forager.build.repair.plan import plan_collection, plan_run
from forager.build.testrun import TestOutcome, TestRun
from forager.runtime import ExecResult


def _repo(root: Path) -> Path:
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text("")
    (root / "tests" / "support" / "fakes").mkdir(parents=True)
    (root / "tests" / "support" / "fakes" / "__init__.py").write_text("X = 1\n")
    (root / "tests" / "support" / "factories.py").write_text("Y = 2\n")
    (root / "tests" / "test_a.py").write_text("import fakes\nimport factories\nimport yaml\n")
    return root


def test_a_local_helper_package_goes_on_the_path_not_to_the_index(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert local_dir(root, "fakes.sub") == "tests/support" and local_dir(root, "requests") is None
    out = ("E   ModuleNotFoundError: No module named 'fakes'\n"
           "E   ModuleNotFoundError: No module named 'factories'\n"
           "E   ModuleNotFoundError: No module named 'yaml'\n"
           "E   ModuleNotFoundError: No module named 'demo'\n")
    recipe = Recipe(env={"PYTHONPATH": "/repo/extra"})
    fixes = {(f.kind.value, f.value) for f in plan_collection(out, recipe, root)}
    assert fixes == {("install", "PyYAML"), ("env", "PYTHONPATH=/repo/extra:/repo/tests/support")}
    run = TestRun(ExecResult(1, "", 1.0), {"t::a": TestOutcome(
        "t::a", "failed", message="ModuleNotFoundError: No module named 'factories'")})
    assert [(f.kind.value, f.value) for f in plan_run(run, Recipe(), root)] == [
        ("env", "PYTHONPATH=/repo/tests/support")]


def test_configured_paths_of_pytest_tox_and_ci(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n[tool.pytest.ini_options]\n'
                                         'pythonpath = ["tests/support", "/etc"]\n')
    (root / "tox.ini").write_text("[testenv]\nsetenv =\n    PYTHONPATH = {toxinidir}/helpers\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "t.yml").write_text(
        "jobs:\n  t:\n    env:\n      PYTHONPATH: ${{ github.workspace }}/lib2:../out\n    steps: []\n")
    assert configured_paths(ProjectFiles.read(root)) == ["tests/support", "helpers", "lib2"]
    recipe = detect(root, ("3.11",))
    assert recipe.env["PYTHONPATH"] == "/repo/tests/support:/repo/helpers:/repo/lib2"


def test_modules_inside_a_package_are_not_top_level_names(tmp_path: Path) -> None:
    """cattrs keeps src/cattrs/preconf/msgspec.py and json.py: a missing `msgspec` is the
    distribution, and that folder never goes on the path (it would shadow the stdlib's json)."""
    (tmp_path / "src" / "cattrs" / "preconf").mkdir(parents=True)
    for name in ("__init__.py", "preconf/__init__.py", "preconf/msgspec.py", "preconf/json.py"):
        (tmp_path / "src" / "cattrs" / name).write_text("")
    assert local_dir(tmp_path, "msgspec") is None and local_dir(tmp_path, "json") is None
    assert local_dir(tmp_path, "cattrs") == "src"
    fixes = plan_collection("E   ModuleNotFoundError: No module named 'msgspec'\n", Recipe(), tmp_path)
    assert [(f.kind.value, f.value) for f in fixes] == [("install", "msgspec")]
