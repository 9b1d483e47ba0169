"""What a path in a repository is: folders nobody's code lives in, and test files."""

from __future__ import annotations

import posixpath

SKIP_DIRS = frozenset({".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache",
                       ".ruff_cache", "node_modules", ".eggs"})
"""Folders of tools and environments: never part of a repository's own code."""

TEST_DIRS = frozenset({"tests", "test"})
"""Folders whose files are tests."""

TEST_LIKE_DIRS = TEST_DIRS | {"testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark"}
"""Folders of tests, test helpers, documentation, examples and benchmarks: beside a project's code."""


def is_test_path(path: str) -> bool:
    """A pytest-style test module (``test_*.py``, ``*_test.py``, ``conftest.py``) or a file in a
    ``tests``/``test`` folder."""
    name = posixpath.basename(path)
    parts = path.split("/")[:-1]
    return (name.startswith("test_") and name.endswith(".py") or name.endswith("_test.py")
            or name == "conftest.py" or any(p in TEST_DIRS for p in parts))


def is_test_like_path(path: str) -> bool:
    """Wider than ``is_test_path`` (task generation's split of a commit into tests and code): also
    any file named ``test_*`` (test data too) and any file in a ``TEST_LIKE_DIRS`` folder."""
    name = posixpath.basename(path)
    parts = path.split("/")[:-1]
    return is_test_path(path) or name.startswith("test_") or any(p in TEST_LIKE_DIRS for p in parts)
