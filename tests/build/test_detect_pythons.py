"""The Python a build is for, and environment markers evaluated for it (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forager.build.detect.pipeline import detect
from forager.build.detect.pythons import preference
from forager.config import reset_settings

PYPROJECT = """[project]
name = "demo"
requires-python = "{spec}"
dependencies = ["newer; python_version >= '3.12'", "older; python_version < '3.12'"]
"""


def project(root: Path, spec: str) -> Path:
    (root / "pyproject.toml").write_text(PYPROJECT.format(spec=spec))
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_x.py").write_text("def test_x(): pass\n")
    return root


def test_markers_are_evaluated_for_the_chosen_python(tmp_path: Path) -> None:
    r = detect(project(tmp_path, ">=3.12"))
    assert r.python == "3.13"
    assert "newer; python_version >= '3.12'" in r.deps
    assert not any(d.startswith("older") for d in r.deps)


def test_the_default_python_setting_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert preference("3.11") == ("3.11", "3.13", "3.9")
    assert preference("3.13") == ("3.13", "3.11", "3.9")
    monkeypatch.setenv("FORAGER_DEFAULT_PYTHON", "3.13")
    reset_settings()
    assert detect(project(tmp_path, ">=3.8")).python == "3.13"
