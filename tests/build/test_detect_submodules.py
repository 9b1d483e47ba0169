"""A git submodule the checkout declares but could not fetch is named in the recipe's notes, so a
build whose suite reads it says why it fails (tomlkit at 2024-11: every file failed to collect on
a missing tests/toml-test/tests; no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipeline import detect
from forager.build.detect.submodules import declared_submodules, missing_submodules

GITMODULES = """[submodule "tests/toml-test"]
\tpath = tests/toml-test
\turl = https://github.com/BurntSushi/toml-test.git
[submodule "escape"]
\tpath = ../outside
\turl = https://example.org/x.git
[submodule "tests/toml-spec-tests"]
\tpath = tests/toml-spec-tests
\turl = https://github.com/iarna/toml-spec-tests.git
"""


def test_missing_submodules_are_noted(tmp_path: Path) -> None:
    (tmp_path / "tests" / "toml-test").mkdir(parents=True)  # git leaves an empty folder behind
    (tmp_path / "tests" / "toml-spec-tests").mkdir()
    (tmp_path / "tests" / "toml-spec-tests" / "values.toml").write_text("a = 1\n")
    (tmp_path / "tests" / "test_api.py").write_text("def test_a():\n    pass\n")
    (tmp_path / ".gitmodules").write_text(GITMODULES)
    assert declared_submodules(tmp_path) == ["tests/toml-test", "tests/toml-spec-tests"]
    assert missing_submodules(tmp_path) == ["tests/toml-test"]
    notes = [n for n in detect(tmp_path).notes if "submodule" in n]
    assert notes and "tests/toml-test" in notes[0] and "toml-spec-tests" not in notes[0]


def test_no_note_without_submodules(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_api.py").write_text("def test_a():\n    pass\n")
    assert not [n for n in detect(tmp_path).notes if "submodule" in n]
