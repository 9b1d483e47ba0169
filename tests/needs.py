"""What a test does when a real engine, server or program it needs is missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> NoReturn:
    """A real engine, server or program a test needs is missing: a failure with CI=true (CI must
    run every test for real), a skip on a developer's machine without it."""
    if IN_CI:
        pytest.fail(f"CI=true and {what}")
    pytest.skip(what)
