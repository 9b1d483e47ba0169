"""setup.py read statically: module-level names inside the setup() arguments' containers are
resolved (responses at 2025-01 declares ``extras_require = {"tests": tests_require}``; read as
nothing, its build ran 5 of 173 test functions; no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipeline import detect
from forager.build.detect.project_files import setup_py_meta

SETUP_PY = '''
from setuptools import setup

install_requires = ["requests>=2.30.0,<3.0", "pyyaml"]
tests_require = ["pytest>=7.0.0", "pytest-asyncio", "pytest-httpserver", "tomli-w"]
extras_require = {"tests": tests_require}
docs = ["sphinx"]
everything = [*tests_require, *docs] + ["coverage"]
version = "1." + "2"

setup(name="demo", version=version, install_requires=install_requires, extras_require=extras_require,
      classifiers=["Programming Language :: Python :: 3.11"], keywords=everything)
'''


def test_names_inside_containers_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(SETUP_PY)
    meta = setup_py_meta(tmp_path / "setup.py")
    assert meta["extras_require"] == {"tests": ["pytest>=7.0.0", "pytest-asyncio", "pytest-httpserver", "tomli-w"]}
    assert meta["keywords"][-3:] == ["tomli-w", "sphinx", "coverage"]
    assert meta["version"] == "1.2"


def test_not_static_stays_unread(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "import os\nfrom setuptools import setup\nreqs = ['a']\nreqs = open('r.txt').read().split()\n"
        "setup(name='x', install_requires=reqs, extras_require={'tests': [os.environ['X']]})\n")
    assert setup_py_meta(tmp_path / "setup.py") == {"name": "x"}


def test_the_tests_extra_reaches_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(SETUP_PY)
    (tmp_path / "demo" / "tests").mkdir(parents=True)
    (tmp_path / "demo" / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    recipe = detect(tmp_path)
    assert "tests" in recipe.extras
    assert {"pytest-asyncio", "pytest-httpserver", "tomli-w"} <= {d.split(">")[0] for d in recipe.deps}
