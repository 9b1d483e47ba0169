"""The one install command line every build step installs with."""

from __future__ import annotations

from forager.build.uv import install_command


def pip_install(args: str) -> str:
    """An install of ``args`` (already shell-quoted), quiet and non-interactive: ``uv pip install``
    where the container was given uv (``uv.provide_uv``), pip where it was not or uv fails."""
    return install_command(args)
