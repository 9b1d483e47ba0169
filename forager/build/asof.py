"""Dependencies as of the commit: a git source's dependencies are resolved from what the index
held at the commit's date (pip's ``--uploaded-prior-to``, through ``PIP_UPLOADED_PRIOR_TO``, which
reaches build-isolation installs too), so a past commit builds with the tools of its time. The
path taken is recorded in the recipe (``resolution``)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import git

from forager.build.recipe import Recipe
from forager.build.sources.base import Source, SourceKind
from forager.config import Settings

UPLOADED_PRIOR_TO = "PIP_UPLOADED_PRIOR_TO"


def commit_date(path: Path) -> str | None:
    """The committer date of the checkout's HEAD (UTC, ISO 8601), or None without git history."""
    try:
        when = git.Repo(path, search_parent_directories=False).head.commit.committed_datetime
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_as_of(src: Source, settings: Settings) -> str | None:
    """The date dependencies (and the Python) are chosen as of: the commit's, for git sources and
    clean local checkouts when ``FORAGER_RESOLVE_AS_OF_COMMIT`` is on; else None."""
    if settings.resolve_as_of_commit and (src.kind == SourceKind.GIT or (
            src.kind == SourceKind.LOCAL and "-dirty" not in src.commit)):
        return commit_date(src.path)
    return None


def as_of_commit(recipe: Recipe, src: Source, settings: Settings) -> None:
    """Bound uploads by the commit's date (git sources and clean local checkouts); record the path."""
    date = source_as_of(src, settings)
    if date:
        recipe.set_env(UPLOADED_PRIOR_TO, date)
        recipe.resolution["as_of"] = date
        recipe.note(f"dependencies as of the commit: uploaded before {date}")
    recipe.resolution["path"] = "lock" if "lock" in recipe.resolution else "as_of" if date else "latest"
