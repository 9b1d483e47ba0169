"""A fetched source and the one error every source problem raises (never carrying credentials)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from forager.errors import ForagerError
from forager.redact import redact_text


class SourceError(ForagerError):
    """A source cannot be fetched or used. Its message never carries credentials."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class SourceKind(StrEnum):
    GIT = "git"
    LOCAL = "local"
    PYPI = "pypi"


@dataclass
class Source:
    spec: str
    """What the user gave, normalised."""
    kind: SourceKind
    name: str
    path: Path
    """A local directory with the code."""
    commit: str
    """The git sha, or a content hash for non-git sources."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "repo"


def unreachable(spec: str) -> SourceError:
    """The one message for a source that cannot be fetched, whatever the cause (closed port, an
    HTTP or other server that is not a git server, a timeout, ...): the cause would tell a caller
    what listens where. The detail goes to the server log only."""
    return SourceError(f"could not fetch {spec}: unreachable or not a repository")
