"""Compiled extensions, the pure-Python switch, tools the tests call, submodules (no Docker)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from forager.build.recipe import Recipe
from forager.build.repair.plan import plan_run
from forager.build.sources.gitclone import init_submodules
from forager.build.testrun import TestOutcome, TestRun
from forager.build.toolchain import NEEDS_COMPILER, missing_tools, needs_toolchain, pure_python_switch
from forager.config import get_settings
from forager.runtime import ExecResult

SETUP = """import os
from setuptools import Extension, setup
ext = [] if os.environ.get("FASTTHING_NO_EXTENSIONS") else [Extension("fastthing._speed", ["src/speed.c"])]
setup(ext_modules=ext)
"""


def test_compiled_projects_are_detected_with_their_switch(tmp_path: Path) -> None:
    assert needs_toolchain(tmp_path) is None and pure_python_switch(tmp_path) is None
    (tmp_path / "setup.py").write_text(SETUP)
    assert needs_toolchain(tmp_path) == "setup.py builds extension modules"
    assert pure_python_switch(tmp_path) == "FASTTHING_NO_EXTENSIONS"
    cython = tmp_path / "cy"
    (cython / "pkg").mkdir(parents=True)
    (cython / "pkg" / "fast.pyx").write_text("def f(): pass\n")
    assert needs_toolchain(cython) == "Cython sources (*.pyx)"
    assert NEEDS_COMPILER.search("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory")
    assert NEEDS_COMPILER.search("fatal error: Python.h: No such file or directory")


def test_tools_the_tests_call_are_installed() -> None:
    assert missing_tools("FileNotFoundError: [Errno 2] No such file or directory: 'less'") == ["less"]
    assert missing_tools("sh: 1: cpp: not found\nNo such file or directory: 'data.txt'") == ["cpp"]
    run = TestRun(ExecResult(1, "", 1.0), {"t::a": TestOutcome(
        "t::a", "failed", message="E   FileNotFoundError: [Errno 2] No such file or directory: 'less'")})
    assert [(f.kind.value, f.value) for f in plan_run(run, Recipe(), Path("/nonexistent"))] == [("apt", "less")]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "protocol.file.allow=always", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_submodules_never_come_from_this_machines_files(tmp_path: Path) -> None:
    """A .gitmodules naming a local path (file protocol) is not fetched: submodules come over https."""
    inner = tmp_path / "inner"
    inner.mkdir()
    _git(inner, "init", "-q")
    (inner / "secret.txt").write_text("host file\n")
    _git(inner, "add", "-A")
    _git(inner, "commit", "-qm", "inner")
    outer = tmp_path / "outer"
    outer.mkdir()
    _git(outer, "init", "-q")
    _git(outer, "submodule", "add", "-q", str(inner), "sub")
    _git(outer, "commit", "-qm", "outer")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(outer), str(clone))
    assert init_submodules(clone, str(outer), get_settings()) is False
    assert not (clone / "sub" / "secret.txt").exists()


def test_a_setup_py_that_the_build_backend_never_runs_needs_no_toolchain(tmp_path: Path) -> None:
    """tomli: flit_core builds it; its setup.py (mypyc extensions on request) is never run."""
    (tmp_path / "setup.py").write_text(SETUP)
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["flit_core>=3.12,<4"]\n'
                                             'build-backend = "flit_core.buildapi"\n')
    assert needs_toolchain(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n'
                                             'build-backend = "setuptools.build_meta"\n')
    assert needs_toolchain(tmp_path) == "setup.py builds extension modules"
