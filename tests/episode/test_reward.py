"""The reward's path classification and its machinery checks (no Docker)."""

from __future__ import annotations

from forager.episode.reward import classify, infra_reason, machinery_flags, pytest_section


def test_classify_paths() -> None:
    changes = {"src/pkg/a.py": "M", "tests/test_a.py": "M", "conftest.py": "A", "src/pkg/tests/x.py": "A",
               "pkg/sitecustomize.py": "A", "x.pth": "A", "pytest.ini": "A", "src/_pytest/runner.py": "A",
               "setup.cfg": "M", "tox.ini": "M", "README.md": "M", "lib_test.py": "A"}
    configs = {"setup.cfg": ("[metadata]\nname = a\n", "[metadata]\nname = b\n"),
               "tox.ini": ("[tox]\nenvlist = py3\n", "[tox]\nenvlist = py3\n[pytest]\naddopts = -x\n")}
    out = classify(changes, {"tests/test_a.py"}, configs)
    assert out.carried == ["README.md", "setup.cfg", "src/pkg/a.py"]
    assert out.restored == sorted(set(changes) - set(out.carried))
    assert len(out.flags) == 6 and all("tests/" not in f for f in out.flags)
    assert infra_reason("src/pluggy/__init__.py").startswith("module shadowing")
    assert infra_reason("src/pkg/core.py") == ""


def test_pytest_sections_and_machinery() -> None:
    assert pytest_section("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-q"\n') == {
        "ini_options": {"addopts": "-q"}}
    assert pytest_section("pyproject.toml", "[project]\nname = 'a'\n") is None
    assert pytest_section("setup.cfg", "not ini [") == "not ini ["
    patch = "+++ b/a.py\n+import _pytest.runner\n-old\n"
    assert machinery_flags({"a.py": patch}, {"a.py": "x = 1\n"})
    assert not machinery_flags({"a.py": patch}, {"a.py": "import pytest\nfrom _pytest import nodes\n"})
    assert not machinery_flags({"a.py": "+x = 2\n"}, {"a.py": None})

