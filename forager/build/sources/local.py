"""A local directory: a git work tree keeps its history (uncommitted changes give a ``-dirty``
commit id), a plain directory is identified by a hash of its files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import git

from forager.build.sources.base import Source, SourceError, SourceKind, slug
from forager.config import Settings
from forager.paths import SKIP_DIRS

IGNORED_DIRS = SKIP_DIRS | {"build", "dist", ".git"}
"""Folders left out of a plain directory's content hash."""


def tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path)
        if any(part in IGNORED_DIRS for part in rel.parts) or not f.is_file():
            continue
        h.update(str(rel).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:40]


def _checkout(path: Path, name: str, commit: str, sources_dir: Path) -> Source:
    """A clean clone of ``path`` at ``commit``, leaving the user's working tree alone."""
    dest = sources_dir / f"{name}-{commit[:12]}"
    if not dest.exists():
        git.Repo.clone_from(str(path), str(dest))
    clone = git.Repo(dest)
    try:
        clone.git.checkout("--force", "--detach", commit)
    except git.GitCommandError as exc:
        raise SourceError(f"no commit {commit} in {path}") from exc
    return Source(str(path), SourceKind.LOCAL, name, dest, clone.head.commit.hexsha)


def _work_tree(path: Path, name: str, repo: git.Repo) -> Source:
    """The work tree as it is: HEAD, with a hash of the files when it has uncommitted changes."""
    try:
        sha = repo.head.commit.hexsha
    except ValueError:  # no commit yet
        return Source(str(path), SourceKind.LOCAL, name, path, tree_hash(path))
    if repo.is_dirty(untracked_files=True):
        sha = f"{sha[:12]}-dirty-{tree_hash(path)[:8]}"
    return Source(str(path), SourceKind.LOCAL, name, path, sha)


def from_local(path: Path, commit: str | None, settings: Settings) -> Source:
    name = slug(path.name)
    try:
        repo: git.Repo | None = git.Repo(path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    if repo is not None and not repo.bare:
        return _checkout(path, name, commit, settings.sources_dir) if commit else _work_tree(path, name, repo)
    if commit:
        raise SourceError(f"{path} is not a git repository; --commit needs one")
    return Source(str(path), SourceKind.LOCAL, name, path, tree_hash(path))
