"""The one pip command line every build step installs with."""

from __future__ import annotations


def pip_install(args: str) -> str:
    """``pip install`` of ``args`` (already shell-quoted), quiet and non-interactive."""
    return f"python -m pip install --no-input --progress-bar off {args}"
