"""Build a fixture repository into its own FORAGER_HOME (the process's settings restored after)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from forager.config import reset_settings

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
[project]
name = "{name}"
version = "0.1"
"""
"""A setuptools project named ``{name}``: the fixture repositories the builder tests write."""


def build_in_home(source: Path, home: Path) -> Any:
    """The validated build of ``source`` made with ``home`` as FORAGER_HOME; ``result.home`` names it."""
    from forager.build.builder import build

    old = os.environ.get("FORAGER_HOME")
    os.environ["FORAGER_HOME"] = str(home)
    reset_settings()
    try:
        result = build(str(source))
    finally:
        if old is None:
            os.environ.pop("FORAGER_HOME", None)
        else:
            os.environ["FORAGER_HOME"] = old
        reset_settings()
    assert result.status == "validated", result.error
    result.home = home  # type: ignore[attr-defined]
    return result
