"""The share of the suite a validation runs, and finding the suite the way maintainers run it
(no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipeline import detect
from forager.build.detect.suite import static_test_functions, suite_share


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_static_functions_and_share(tmp_path: Path) -> None:
    write(tmp_path, {
        "tests/test_a.py": "import unittest\ndef test_a(): pass\nasync def test_b(): pass\ndef helper(): pass\n"
                           "class TestC:\n    def test_c(self): pass\n    def other(self): pass\n"
                           "class D(unittest.TestCase):\n    def test_d(self): pass\n",
        "pkg/sub/tests/test_e.py": "def test_e(): pass\n",
    })
    found = static_test_functions(tmp_path)
    assert found == {"tests/test_a.py::test_a", "tests/test_a.py::test_b", "tests/test_a.py::TestC::test_c",
                     "tests/test_a.py::D::test_d", "pkg/sub/tests/test_e.py::test_e"}
    share = suite_share(found, ["tests/test_a.py::test_a[1]", "tests/test_a.py::test_a[2]",
                                "tests/test_a.py::TestC::test_c", "tests/doctest.txt::x"])
    assert share == {"test_functions": 5, "functions_run": 2, "suite_share_pct": 40}


def test_tests_in_every_sub_package_are_all_run(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[project]\nname = "pkg"\n', "tests/test_top.py": "def test_t(): pass\n",
                     "pkg/a/tests/test_a.py": "def test_a(): pass\n", "pkg/b/tests/test_b.py": "def test_b(): pass\n",
                     "docs/test_doc.py": "def test_d(): pass\n"})
    assert detect(tmp_path, ("3.11",)).test_paths == ["tests", "pkg"]


def test_pyargs_as_the_maintainers_run_it(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[project]\nname = "pkg"\n',
                     "pkg/a/tests/test_a.py": "def test_a(): pass\n",
                     ".github/workflows/t.yml": "jobs:\n  t:\n    steps:\n"
                                                "      - run: python -m pytest -ra --pyargs pkg\n"})
    assert detect(tmp_path, ("3.11",)).test_paths == ["--pyargs", "pkg"]


def test_a_root_test_py_suite_is_named_explicitly(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='slug')\n", "slug/__init__.py": "",
                     "test.py": "import unittest\nclass TestSlug(unittest.TestCase):\n    def test_a(self): pass\n"})
    assert detect(tmp_path, ("3.11",)).test_paths == ["test.py"]
