"""What a path in a repository is: folders nobody's code lives in, and test files."""

from __future__ import annotations

import posixpath

SKIP_DIRS = frozenset({".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache",
                       ".ruff_cache", "node_modules", ".eggs"})
"""Folders of tools and environments: never part of a repository's own code."""


def is_test_path(path: str) -> bool:
    """A pytest-style test module (``test_*.py``, ``*_test.py``, ``conftest.py``) or a file in a
    ``tests``/``test`` folder."""
    name = posixpath.basename(path)
    parts = path.split("/")[:-1]
    return (name.startswith("test_") and name.endswith(".py") or name.endswith("_test.py")
            or name == "conftest.py" or any(p in ("tests", "test") for p in parts))
