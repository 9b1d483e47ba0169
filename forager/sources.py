"""Getting a repository's code onto this machine: a git URL (pinned to a commit), a local
directory, or a PyPI sdist (``pypi:NAME[==VERSION]``)."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import git
import httpx
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from forager.config import get_settings

PYPI_SIMPLE = "https://pypi.org/simple"
IGNORED_DIRS = {".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache",
                ".ruff_cache", "node_modules", ".eggs", "build", "dist"}


class SourceError(Exception):
    """The source could not be fetched or read."""


@dataclass
class Source:
    spec: str  # what the user gave, normalised
    kind: str  # git | local | pypi
    name: str
    path: Path  # a local directory with the code
    commit: str  # git sha, or a content hash for non-git sources
    has_history: bool


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "repo"


def is_git_url(spec: str) -> bool:
    return bool(re.match(r"^(https?|git|ssh)://", spec) or spec.startswith("git@") or spec.endswith(".git"))


def resolve(spec: str, commit: str | None = None) -> Source:
    if spec.startswith("pypi:"):
        if commit:
            raise SourceError("--commit does not apply to a PyPI sdist (pin a version instead)")
        return _from_pypi(spec.removeprefix("pypi:"))
    if is_git_url(spec):
        return _from_git(spec, commit)
    path = Path(spec).expanduser()
    if path.is_dir() and _is_bare(path):  # a bare repository is cloned like a URL
        return _from_git(str(path.resolve()), commit)
    if path.is_dir():
        return _from_local(path.resolve(), commit)
    raise SourceError(f"not a git URL, a directory, or pypi:NAME: {spec!r}")


def _is_bare(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and not (path / ".git").exists()


def _from_git(url: str, commit: str | None) -> Source:
    name = _slug(url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1])
    dest = get_settings().sources_dir / f"{name}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
    env = {"GIT_TERMINAL_PROMPT": "0"}
    try:
        if (dest / ".git").exists():
            repo = git.Repo(dest)
            repo.git.update_environment(**env)
            repo.git.fetch("--tags", "origin", kill_after_timeout=600)
        else:
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            git.Git().execute(["git", "clone", "--quiet", url, str(dest)], env={**env},
                              kill_after_timeout=900)
            repo = git.Repo(dest)
        target = commit or "origin/HEAD"
        if commit is None:
            try:
                repo.git.rev_parse("--verify", "origin/HEAD")
            except git.GitCommandError:
                target = "HEAD"
        repo.git.checkout("--force", "--detach", target)
        repo.git.clean("-fdxq")
        sha = repo.head.commit.hexsha
    except git.GitCommandError as exc:
        raise SourceError(f"git failed for {url}: {(exc.stderr or str(exc)).strip()[:500]}") from exc
    return Source(url, "git", name, dest, sha, has_history=True)


def _from_local(path: Path, commit: str | None) -> Source:
    name = _slug(path.name)
    try:
        repo = git.Repo(path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    if repo is not None and not repo.bare:
        if commit:
            # Build a clean checkout of that commit, leaving the user's working tree alone.
            dest = get_settings().sources_dir / f"{name}-{commit[:12]}"
            if not dest.exists():
                git.Repo.clone_from(str(path), str(dest))
            clone = git.Repo(dest)
            try:
                clone.git.checkout("--force", "--detach", commit)
            except git.GitCommandError as exc:
                raise SourceError(f"no commit {commit} in {path}") from exc
            return Source(str(path), "local", name, dest, clone.head.commit.hexsha, True)
        try:
            sha = repo.head.commit.hexsha
        except ValueError:
            sha = _tree_hash(path)
            return Source(str(path), "local", name, path, sha, False)
        if repo.is_dirty(untracked_files=True):
            sha = f"{sha[:12]}-dirty-{_tree_hash(path)[:8]}"
        return Source(str(path), "local", name, path, sha, True)
    if commit:
        raise SourceError(f"{path} is not a git repository; --commit needs one")
    return Source(str(path), "local", name, path, _tree_hash(path), False)


def _tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path)
        if any(part in IGNORED_DIRS or part == ".git" for part in rel.parts) or not f.is_file():
            continue
        h.update(str(rel).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:40]


def _pick_sdist(name: str, version: str | None) -> tuple[str, str, str]:
    url = f"{PYPI_SIMPLE}/{canonicalize_name(name)}/"
    try:
        resp = httpx.get(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                         timeout=60, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SourceError(f"PyPI unreachable: {exc}") from exc
    if resp.status_code == 404:
        raise SourceError(f"no package {name!r} on PyPI")
    resp.raise_for_status()
    candidates: list[tuple[Version, str, str]] = []
    for f in resp.json().get("files", []):
        fn = f["filename"]
        if f.get("yanked") or not (fn.endswith(".tar.gz") or fn.endswith(".zip")):
            continue
        try:
            _, ver = parse_sdist_filename(fn)
        except (ValueError, InvalidVersion):
            continue
        candidates.append((ver, fn, f["url"]))
    if version:
        wanted = Version(version)
        matches = [c for c in candidates if c[0] == wanted]
        if not matches:
            raise SourceError(f"{name}=={version} has no sdist on PyPI")
        ver, fn, link = matches[0]
    else:
        stable = [c for c in candidates if not c[0].is_prerelease] or candidates
        if not stable:
            raise SourceError(f"{name} has no sdist on PyPI")
        ver, fn, link = max(stable, key=lambda c: c[0])
    return str(ver), fn, link


def _from_pypi(req: str) -> Source:
    name, _, version = req.partition("==")
    name = name.strip()
    ver, filename, link = _pick_sdist(name, version.strip() or None)
    dest = get_settings().sources_dir / f"pypi-{_slug(name)}-{ver}"
    marker = dest / ".forager-sdist"
    if not marker.exists():
        try:
            data = httpx.get(link, timeout=300, follow_redirects=True).raise_for_status().content
        except httpx.HTTPError as exc:
            raise SourceError(f"could not download {filename}: {exc}") from exc
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        _extract(data, filename, dest)
        marker.write_text(hashlib.sha256(data).hexdigest())
    sha = marker.read_text().strip()[:40]
    return Source(f"pypi:{name}=={ver}", "pypi", _slug(name), dest, sha, has_history=False)


def _extract(data: bytes, filename: str, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".unpack")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
            tf.extractall(tmp, filter="data")
    entries = list(tmp.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
    for item in root.iterdir():
        shutil.move(str(item), dest / item.name)
    shutil.rmtree(tmp, ignore_errors=True)
