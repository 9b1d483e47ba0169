"""Where a repository's tests are: the pytest configuration's testpaths, else the usual test
folders, else the test files themselves (suites pytest's default name patterns would miss)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.project_files import ProjectFiles, pytest_option
from forager.paths import SKIP_DIRS

TEST_DIRS = ("tests", "test", "testing", "t")
SKIP_PARTS = SKIP_DIRS | {".git", "build", "dist"}
"""Folders never searched for test files."""


def test_files(root: Path, named_only: bool = False) -> list[Path]:
    """Test files: ``test_*.py`` / ``*_test.py`` anywhere, or (unless ``named_only``) any module
    in a ``tests``/``test`` directory and ``test.py`` files (unittest suites run as scripts)."""
    found = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).parts
        if any(part in SKIP_PARTS or part.endswith(".egg-info") for part in rel):
            continue
        named = p.name.startswith("test_") or p.name.endswith("_test.py") or p.name == "tests.py"
        in_tests = any(part in ("tests", "test") for part in rel[:-1]) and p.name not in (
            "__init__.py", "conftest.py")
        if named or ((in_tests or p.name == "test.py") and not named_only):
            found.append(p)
    return found


def has_testpaths(files: ProjectFiles) -> bool:
    """Whether the pytest configuration names the test paths itself."""
    return bool(files.pytest_ini_options().get("testpaths")) or pytest_option(files.root, "testpaths") is not None


NOT_SUITES = {"docs", "doc", "examples", "example", "benchmarks", "bench", "scripts", "tools", "ci", "site-packages"}
"""Top-level folders whose test-named files are not part of the suite."""


def _test_dirs(root: Path) -> list[str]:
    """The top-level folders that hold test files (a ``tests`` folder and sub-packages' tests
    alike: taking only one would validate a sliver of the suite); none when files at the root
    hold tests too (pytest's discovery from the root then finds them all)."""
    tops: list[str] = []
    for f in test_files(root):
        parts = f.relative_to(root).parts
        if len(parts) == 1:
            return []
        if parts[0] not in tops and parts[0] not in NOT_SUITES:
            tops.append(parts[0])
    preferred = [d for d in TEST_DIRS if d in tops]
    return preferred + sorted(t for t in tops if t not in preferred)


def choose_test_paths(files: ProjectFiles) -> tuple[list[str], str]:
    """The paths to give pytest (none: its configuration or discovery decides), and a note."""
    if has_testpaths(files):
        return [], "test paths from the pytest configuration"
    root = files.root
    paths = _test_dirs(root)
    if not test_files(root, named_only=True):
        # files in a tests directory that pytest's default name patterns would not collect
        # (unittest suites named tests/test.py and the like): named explicitly, pytest runs them
        paths = [str(f.relative_to(root)) for f in test_files(root)][:20]
    return paths, f"test paths: {' '.join(paths) or '(pytest discovery from the root)'}"
