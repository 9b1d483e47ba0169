"""The error of task generation as a whole (per-candidate problems are discard reasons, not errors)."""

from __future__ import annotations

from forager.errors import ForagerError


class TaskError(ForagerError):
    """A request that cannot produce tasks at all (unknown image or kind, no history, ...)."""
