"""``detect()``: a repository's files in, a ``Recipe`` out, as a short pipeline of named steps.

Everything is static: nothing from the repository runs on the host. The recipe's notes record
what was found and where, so a build's choices can always be explained.
"""

from __future__ import annotations

import re
from pathlib import Path

from forager.build.detect import declared, tools
from forager.build.detect.findings import Findings
from forager.build.detect.locks import CONSTRAINTS_PATH, lock_pins
from forager.build.detect.pipargs import self_extras
from forager.build.detect.project_files import ProjectFiles
from forager.build.detect.pythons import choose_python, preference
from forager.build.detect.requirements import (
    final_deps,
    listed_requirement_files,
    wanted_requirement_file,
    without_redundant_dev_files,
)
from forager.build.detect.submodules import missing_submodules
from forager.build.detect.suite import pyargs_package
from forager.build.detect.testpaths import choose_test_paths, has_testpaths
from forager.build.recipe import TEST_COMMAND, Recipe
from forager.build.repair.local import configured_paths, pythonpath_value
from forager.build.toolchain import needs_toolchain
from forager.config import get_settings


def _declared_requirements(files: ProjectFiles, found: Findings) -> None:
    """Runtime dependencies, test-like extras, tests_require and test dependency groups."""
    for where, reqs in declared.runtime_requirements(files):
        found.add(reqs, where)
    for extra in declared.testlike_extras(found.declared):
        found.add_extra(extra, f"extra [{extra}]")
    for where, reqs in declared.tests_require(files) + declared.dependency_groups(files):
        found.add(reqs, where)


def _tool_requirements(files: ProjectFiles, found: Findings) -> None:
    """Requirement files by name, then what tox, nox and the CI workflows install."""
    for rel in listed_requirement_files(files.root):
        found.add_file(rel)
    tools.from_tox(files, found)
    tools.from_nox(files.root, found)
    tools.from_ci(files, found)
    for rel in found.files:  # `-e .[a,b]` lines: the project with extras (kept, not dropped)
        for extra in self_extras(files.root / rel):
            found.add_extra(extra, f"extra [{extra}] ({rel})")


def _sdist_version(root: Path) -> str | None:
    """An sdist knows its version; a VCS-versioned build in a fresh git repository would not."""
    pkg_info = root / "PKG-INFO"
    if not pkg_info.is_file() or (root / ".git").exists():
        return None
    m = re.search(r"^Version:\s*(\S+)", pkg_info.read_text(errors="replace"), re.M)
    return m.group(1) if m else None


def _recipe(files: ProjectFiles, found: Findings, name: str) -> Recipe:
    """The recipe of what was found (requirement files for other Pythons left out)."""
    recipe = Recipe(python=found.python, name=name, deps=final_deps(found.deps, name),
                    requirement_files=without_redundant_dev_files(
                        [f for f in found.files if wanted_requirement_file(f, found.python)]),
                    extras=found.extras, test_command=TEST_COMMAND, notes=found.notes)
    if found.files:
        recipe.note(f"requirement files: {', '.join(found.files)}")
    if found.extras:
        recipe.note(f"extras: {', '.join(found.extras)}")
    if version := _sdist_version(files.root):
        recipe.set_env("SETUPTOOLS_SCM_PRETEND_VERSION", version)
        recipe.note(f"version {version} from PKG-INFO (for VCS-versioned builds)")
    recipe.build_requires = declared.build_requires(files, found.python)
    if reason := needs_toolchain(files.root):
        recipe.toolchain = reason
        recipe.note(f"build toolchain layer: {reason}")
    lock, recipe.constraints = lock_pins(files.root, name)
    if lock:
        recipe.set_env("PIP_CONSTRAINT", CONSTRAINTS_PATH)
        recipe.resolution["lock"] = lock
        recipe.note(f"{len(recipe.constraints)} pin(s) from {lock}: every install constrained to them")
    if paths := configured_paths(files):
        recipe.set_env("PYTHONPATH", pythonpath_value(paths))
        recipe.note(f"PYTHONPATH {recipe.env['PYTHONPATH']}: as the repository's pytest/tox/CI configuration sets it")
    recipe.test_paths, note = choose_test_paths(files)
    if not has_testpaths(files) and (package := pyargs_package(files.root)):
        recipe.test_paths, note = ["--pyargs", package], f"test paths: --pyargs {package}, as the maintainers run it"
    recipe.note(note)
    if missing := missing_submodules(files.root):
        recipe.note(f"git submodule(s) not in the checkout (could not be fetched): {', '.join(missing)}; "
                    "tests that read them cannot pass")
    return recipe


def detect(root: Path, available_pythons: tuple[str, ...] | None = None, as_of: str | None = None) -> Recipe:
    """How to install and test the repository at ``root``, for the first of ``available_pythons``
    (default: every Python Forager makes bases for, ``Settings.default_python`` first) it allows
    and that was settled at the commit's date ``as_of`` (ISO 8601, None: no date rule)."""
    files = ProjectFiles.read(root)
    pythons = available_pythons or preference(get_settings().default_python)
    python, python_note = choose_python(files, pythons, as_of)
    found = Findings(python=python, declared=declared.declared_extras(files), notes=[python_note])
    _declared_requirements(files, found)
    _tool_requirements(files, found)
    return _recipe(files, found, declared.project_name(files))
