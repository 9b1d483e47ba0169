"""The builder's errors (sources have their own: ``sources.base.SourceError``)."""

from __future__ import annotations

from forager.errors import ForagerError


class BuildError(ForagerError):
    """A build step failed in a way the repair loop cannot fix."""
