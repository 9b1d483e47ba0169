"""Poetry's ``python`` dependency is read as requires-python whatever its form (tomlkit 0.12 at
2024-02 says ``python = ">=3.7"``, which was read as none), and a Python stepped down by tox envs
says so in its note (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.project_files import ProjectFiles
from forager.build.detect.pythons import choose_python, poetry_python, requires_python


def test_poetry_python_forms() -> None:
    assert poetry_python(">=3.7") == ">=3.7"
    assert poetry_python(">=3.8,<4.0") == ">=3.8,<4.0"
    assert poetry_python(">=3.8, <3.13") == ">=3.8,<3.13"
    assert poetry_python(">= 3.8, < 4") == ">=3.8,<4"
    assert poetry_python("^3.8") == ">=3.8,<4"
    assert poetry_python("~3.9") == ">=3.9,<3.10"
    assert poetry_python("3.8") == ">=3.8"
    assert poetry_python(">=2.7,<2.8 || >=3.6") == ">=3.6"
    assert poetry_python("*") == ""
    assert poetry_python("not a version") == ""


def _poetry_project(root: Path, python: str) -> ProjectFiles:
    (root / "pyproject.toml").write_text(
        f'[tool.poetry]\nname = "demo"\nversion = "1.0"\n\n[tool.poetry.dependencies]\npython = "{python}"\n')
    return ProjectFiles.read(root)


def test_poetry_lower_bound_decides_the_python(tmp_path: Path) -> None:
    files = _poetry_project(tmp_path, ">=3.12")
    assert requires_python(files) == ">=3.12"
    assert choose_python(files, ("3.11", "3.13", "3.9"), "2025-06-01T00:00:00Z")[0] == "3.13"


def test_tox_step_down_is_noted(tmp_path: Path) -> None:
    _poetry_project(tmp_path, ">=3.7")
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py37, py38, py39, pypy3\n")
    choice, note = choose_python(ProjectFiles.read(tmp_path), ("3.11", "3.13", "3.9"), "2024-02-27T00:00:00Z")
    assert choice == "3.9" and "requires-python >=3.7" in note and "tox envs up to 3.9" in note
