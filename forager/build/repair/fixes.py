"""One proposed repair: a small record of what to do and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FixKind(StrEnum):
    INSTALL = "install"
    """Install a distribution."""
    ARG = "arg"
    """Add a pytest argument."""
    ENV = "env"
    """Set an environment variable (``KEY=VALUE``)."""
    IGNORE = "ignore"
    """Leave out a test file that cannot be collected."""
    IMPORTS_OF = "imports-of"
    """Install what a test file imports (also optionally) and the image lacks."""
    PYTEST_DOWNGRADE = "pytest-downgrade"
    """Install a pytest older than the installed one."""
    APT = "apt"
    """Install a Debian package (a command-line tool the tests call)."""
    STEP_DOWN = "step-down"
    """Install a release of a distribution (a pytest plugin) older than the installed one."""


@dataclass(frozen=True)
class Fix:
    kind: FixKind
    value: str
    why: str

    def describe(self) -> str:
        return f"{self.kind} {self.value} ({self.why})"
