"""A source line expanded into the versions a campaign builds: ``pypi:NAME==V`` is one version;
``pypi:NAME`` the K most recent releases that have an sdist (the PyPI JSON API); a git URL or a
local git work tree K commits over recent history — release tags first, else commits that change
code, spread evenly; a local directory without git is one version. ``GIT@REF`` (a git URL, a bare
mirror or a git work tree, then a tag, branch or commit) is exactly that one commit, as
``pypi:NAME==V`` is one release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git
import httpx
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from forager.build.sources.base import SourceError
from forager.build.sources.resolve import is_git_url, resolve
from forager.config import get_settings

PYPI_JSON = "https://pypi.org/pypi/{name}/json"
RECENT_COMMITS = 300
"""How far back code-changing commits are looked for."""
CODE_PATHS = ("*.py", "**/*.py")


@dataclass(frozen=True)
class SourceVersion:
    source: str
    """The source line it comes from."""
    spec: str
    """What the builder is given."""
    commit: str | None
    label: str
    """The version as people say it (a release, a tag, a short sha)."""

    @property
    def key(self) -> str:
        return f"{self.spec}@{self.commit or self.label}"


def _pypi_releases(name: str, k: int) -> list[str]:
    """The ``k`` most recent stable releases of ``name`` with an sdist that is not yanked."""
    try:
        resp = httpx.get(PYPI_JSON.format(name=canonicalize_name(name)), timeout=60, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SourceError(f"PyPI unreachable: {exc}") from exc
    if resp.status_code == 404:
        raise SourceError(f"no package {name!r} on PyPI")
    resp.raise_for_status()
    dated: list[tuple[datetime, Version, str]] = []
    for ver, files in (resp.json().get("releases") or {}).items():
        try:
            v = Version(ver)
        except InvalidVersion:
            continue
        sdists = [f for f in files if f.get("packagetype") == "sdist" and not f.get("yanked")]
        if v.is_prerelease or v.is_devrelease or not sdists:
            continue
        when = min(datetime.fromisoformat(f["upload_time"]) for f in sdists)
        dated.append((when, v, ver))
    dated.sort(reverse=True)
    if not dated:
        raise SourceError(f"{name} has no sdist on PyPI")
    return [ver for _, _, ver in dated[:k]]


def spread(items: list[str], k: int) -> list[str]:
    """``k`` items spread evenly over ``items`` (newest first), the newest always included."""
    if len(items) <= k:
        return items
    step = len(items) / k
    return [items[int(i * step)] for i in range(k)]


def git_versions(repo_dir: Path, ref: str, k: int) -> list[tuple[str, str]]:
    """(sha, label) of ``k`` commits reachable from ``ref``: release tags (newest first), else
    commits that change Python code, spread over the last RECENT_COMMITS of them."""
    repo = git.Repo(repo_dir)
    tags = [t for t in repo.git.tag("--sort=-creatordate", "--merged", ref).splitlines()
            if re.search(r"\d", t)]
    out: list[tuple[str, str]] = []
    for tag in tags:
        sha = repo.git.rev_list("-n", "1", tag)
        if sha not in {s for s, _ in out}:
            out.append((sha, tag))
        if len(out) == k:
            return out
    if out:
        return out
    shas = repo.git.log("--format=%H", "--no-merges", f"-n{RECENT_COMMITS}", ref, "--", *CODE_PATHS).splitlines()
    shas = shas or [repo.git.rev_parse(ref)]
    return [(sha, sha[:12]) for sha in spread(shas, k)]


def pinned_ref(source: str) -> tuple[str, str] | None:
    """(git source, ref) when ``source`` is ``GIT@REF``; None otherwise (``git@host:…`` URLs included)."""
    head, at, ref = source.rpartition("@")
    if not at or not head or not ref or head == "git" or any(c in ref for c in ": \t"):
        return None
    if is_git_url(head) or Path(head).expanduser().is_dir():
        return head, ref
    return None


def expand(source: str, k: int) -> list[SourceVersion]:
    """The versions of one source line; SourceError when the source cannot be read."""
    if source.startswith("pypi:"):
        name, _, pinned = source.removeprefix("pypi:").partition("==")
        versions = [pinned] if pinned else _pypi_releases(name.strip(), k)
        return [SourceVersion(source, f"pypi:{name.strip()}=={v}", None, v) for v in versions]
    pin = pinned_ref(source)
    if pin is not None:
        head, ref = pin
        src = resolve(head, None, get_settings())
        try:
            sha = git.Repo(src.path).git.rev_parse("--verify", f"{ref}^{{commit}}")
        except git.GitCommandError:
            raise SourceError(f"{head} has no commit {ref!r}") from None
        return [SourceVersion(source, src.spec, sha, ref if ref != "HEAD" else sha[:12])]
    src = resolve(source, None, get_settings())
    path = Path(source).expanduser()
    local_plain = not is_git_url(source) and not (path / ".git").exists() and src.kind == "local"
    if local_plain:
        return [SourceVersion(source, src.spec, None, src.commit[:12])]
    return [SourceVersion(source, src.spec, sha, label) for sha, label in git_versions(src.path, src.commit, k)]
