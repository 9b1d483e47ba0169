"""Which kind of source a spec names, and fetching it."""

from __future__ import annotations

import re
from pathlib import Path

from forager.build.sources.base import Source, SourceError
from forager.build.sources.gitclone import from_git
from forager.build.sources.local import from_local
from forager.build.sources.pypi import from_pypi
from forager.config import Settings, get_settings


def is_git_url(spec: str) -> bool:
    return bool(re.match(r"^(https?|git|ssh)://", spec) or spec.startswith("git@") or spec.endswith(".git"))


def is_bare(path: Path) -> bool:
    """A bare git repository (cloned like a URL)."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and not (path / ".git").exists()


def resolve(spec: str, commit: str | None = None, settings: Settings | None = None) -> Source:
    """Fetch ``spec`` (at ``commit``, for git sources) into a local directory, within the source
    limits of ``settings`` (default: the process's settings)."""
    settings = settings or get_settings()
    if spec.startswith("pypi:"):
        if commit:
            raise SourceError("--commit does not apply to a PyPI sdist (pin a version instead)")
        return from_pypi(spec.removeprefix("pypi:"), settings)
    if is_git_url(spec):
        return from_git(spec, commit, settings)
    path = Path(spec).expanduser()
    if path.is_dir() and is_bare(path):
        return from_git(str(path.resolve()), commit, settings)
    if path.is_dir():
        return from_local(path.resolve(), commit, settings)
    raise SourceError(f"not a git URL, a directory, or pypi:NAME: {spec!r}")
