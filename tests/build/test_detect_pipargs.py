"""The CI parser reads only distributions as requirements: options, their values, GitHub
expressions and shell variables never reach an index; `-e .[a,b]` keeps its extras."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipargs import pip_install_args, self_extras
from forager.build.detect.pipeline import detect

WORKFLOW = """name: ci
on: [push]
env:
  PROJECT_NAME: demo
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        extras: [fast, slow]
    steps:
      - run: python -m pip install --group typecheck -e .[${{ matrix.extras }}] requests
      - run: |
          pip install ${{ env.PROJECT_NAME }}==${{ github.ref_name }} \\
            ${{ steps.wheel-file.outputs.path }} --extra-index-url https://example.invalid/simple attrs
      - run: uv pip install --extra doc --group test pytest-mock
      - run: pip install -r requirements-ci.txt "$EXTRA_PKG" httpx
      - run: uv sync --extra cli --group tests
"""


def _repo(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "requirements-ci.txt").write_text("-e .[extra1,extra2]\nsix\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\n'
        '[project.optional-dependencies]\nextra1 = ["idna"]\nextra2 = ["toolz"]\ncli = ["click"]\n'
        '[dependency-groups]\ntests = ["pytest-xdist"]\ntypecheck = ["mypy-extensions"]\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    return tmp_path


def test_expressions_and_option_values_are_not_requirements(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    args = pip_install_args(WORKFLOW, root, "3.11")
    assert args.reqs == ["requests", "attrs", "pytest-mock", "httpx"]
    assert args.files == ["requirements-ci.txt"]
    assert args.groups == ["typecheck", "test", "tests"]
    assert args.extras == ["cli"]  # `.[${{ matrix.extras }}]` names no extra we can know


def test_requirement_file_keeps_the_projects_extras(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert self_extras(root / "requirements-ci.txt") == ["extra1", "extra2"]
    recipe = detect(root, ("3.11",))
    assert {"extra1", "extra2", "cli"} <= set(recipe.extras)
    assert "pytest-xdist" in recipe.deps  # uv sync --group tests
    assert recipe.deps == ["pytest", "pytest-xdist", "requests", "attrs", "pytest-mock", "httpx", "idna", "toolz"]
    assert recipe.requirement_files == ["requirements-ci.txt"]


def test_a_bare_uv_sync_names_nothing(tmp_path: Path) -> None:
    """`uv sync` with no arguments (anyio's CI) once raised from a strict zip and failed the build."""
    script = "steps:\n  - run: uv sync\n  - run: uv sync --all-extras\n  - run: pip install pytest\n"
    args = pip_install_args(script, tmp_path, "3.11")
    assert args.reqs == ["pytest"]
    assert args.extras == [] and args.groups == []
