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


def _classified(root: Path, spec: str, top: str) -> Path:
    project(root, spec)
    text = (root / "pyproject.toml").read_text().replace(
        "dependencies", f'classifiers = ["Programming Language :: Python :: 3.8", '
                        f'"Programming Language :: Python :: {top}"]\ndependencies')
    (root / "pyproject.toml").write_text(text)
    return root


def test_a_commit_gets_the_python_of_its_time(tmp_path: Path) -> None:
    root = project(tmp_path, ">=3.7")
    assert detect(root).python == "3.11"  # no date: the default first
    assert detect(root, as_of="2022-06-01T12:00:00Z").python == "3.9"  # 3.11 not out yet
    assert detect(root, as_of="2023-02-01T12:00:00Z").python == "3.9"  # out, not settled (180 days)
    assert detect(root, as_of="2023-06-01T12:00:00Z").python == "3.11"
    assert detect(root, as_of="2019-01-01T00:00:00Z").python == "3.9"  # older than every base: the oldest
    assert "commit of 2022-06-01" in " ".join(detect(root, as_of="2022-06-01T12:00:00Z").notes)


def test_requires_python_wins_over_the_date(tmp_path: Path) -> None:
    root = project(tmp_path, ">=3.12")
    assert detect(root, as_of="2024-03-01T00:00:00Z").python == "3.13"  # the only base it allows
    assert detect(project(tmp_path, ">=3.10"), as_of="2022-01-01T00:00:00Z").python == "3.11"


def test_classifiers_step_down_to_the_newest_python_declared(tmp_path: Path) -> None:
    assert detect(_classified(tmp_path, ">=3.7", "3.10")).python == "3.9"  # 3.11 never declared
    assert detect(_classified(tmp_path, ">=3.7", "3.12")).python == "3.11"
    assert detect(_classified(tmp_path, ">=3.12", "3.12")).python == "3.13"  # nothing older allowed
