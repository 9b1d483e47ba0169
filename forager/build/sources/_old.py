"""Getting a repository's code onto this machine: a git URL (pinned to a commit), a local
directory, or a PyPI sdist (``pypi:NAME[==VERSION]``)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import git
import httpx
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from forager.config import get_settings
from forager.errors import ForagerError
from forager.redact import redact_text, redact_url

PYPI_SIMPLE = "https://pypi.org/simple"
CLONE_TIMEOUT_S = 900
"""A whole clone or fetch (a server that keeps answering slowly is still given up)."""
LOW_SPEED_BYTES_S = 1000
"""git over HTTP gives up below this many bytes a second for ``source_connect_timeout_s``."""
ALLOWED_PROTOCOLS = [arg for p in ("https", "http", "git", "ssh", "file")
                     for arg in ("-c", f"protocol.{p}.allow=always")]
"""No ext:: or other transports that run commands on this machine."""
MAX_SDIST_FILES = 100_000
log = logging.getLogger("forager.sources")
IGNORED_DIRS = {".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache",
                ".ruff_cache", "node_modules", ".eggs", "build", "dist"}


class SourceError(ForagerError):
    """A source cannot be fetched or used. Its message never carries credentials."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


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


def unreachable(spec: str) -> SourceError:
    """The one message for a source that cannot be fetched, whatever the cause (closed port, an
    HTTP or other server that is not a git server, a timeout, ...): the cause would tell a caller
    what listens where. The detail goes to the server log only."""
    return SourceError(f"could not fetch {spec}: unreachable or not a repository")


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes "
            f"-o ConnectTimeout={int(get_settings().source_connect_timeout_s)}"}


def _git_transfer(args: list[str], cwd: Path | None, dest: Path, what: str) -> None:
    """Run a git clone or fetch into ``dest`` with the source limits: it is stopped when git has
    said nothing and written nothing for ``source_connect_timeout_s`` (a server that accepts and
    never answers), after CLONE_TIMEOUT_S in all, or when ``dest`` grows past ``source_max_mb``."""
    settings = get_settings()
    stall = settings.source_connect_timeout_s
    cap = settings.source_max_mb * 1024 * 1024
    cmd = ["git", "-c", f"http.lowSpeedLimit={LOW_SPEED_BYTES_S}", "-c", f"http.lowSpeedTime={max(int(stall), 1)}",
           "-c", "protocol.allow=never", *ALLOWED_PROTOCOLS, *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    last = [time.monotonic()]
    err: list[bytes] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        while chunk := proc.stderr.read1(4096):  # type: ignore[attr-defined]
            last[0] = time.monotonic()
            err.append(chunk)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    start, size, why = time.monotonic(), 0, ""
    while proc.poll() is None:
        time.sleep(0.2)
        now_size = _dir_size(dest)
        if now_size != size:
            size, last[0] = now_size, time.monotonic()
        if size > cap:
            why = "too large"
        elif time.monotonic() - last[0] > stall:
            why = f"no answer for {stall:.0f}s"
        elif time.monotonic() - start > CLONE_TIMEOUT_S:
            why = f"not done after {CLONE_TIMEOUT_S}s"
        if why:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
    reader.join(5)
    detail = b"".join(err).decode(errors="replace").strip()[-2000:]
    if why == "too large" or (not why and _dir_size(dest) > cap):
        raise SourceError(f"{what} is larger than the {settings.source_max_mb} MB source limit")
    if why or proc.returncode != 0:
        log.warning("git %s of %s failed (%s): %s", args[0], redact_url(what), why or f"exit {proc.returncode}",
                    redact_text(detail))
        raise unreachable(what)


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def _from_git(url: str, commit: str | None) -> Source:
    name = _slug(url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1])
    dest = get_settings().sources_dir / f"{name}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
    if (dest / ".git").exists():
        _git_transfer(["fetch", "--progress", "--tags", "origin"], dest, dest, url)
    else:
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            _git_transfer(["clone", "--progress", "--no-checkout", "--", url, str(dest)], None, dest, url)
        except SourceError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    repo = git.Repo(dest)
    repo.git.update_environment(GIT_TERMINAL_PROMPT="0")
    if not repo.git.for_each_ref().strip():  # an empty clone: e.g. any HTTP server answering 200
        log.warning("%s gave a clone without any refs", redact_url(url))
        raise unreachable(url)
    try:
        target = commit or "origin/HEAD"
        if commit is None:
            try:
                repo.git.rev_parse("--verify", "origin/HEAD")
            except git.GitCommandError:
                target = "HEAD"
        tree = repo.git.ls_tree("-r", "-l", "--full-tree", target)
    except (git.GitCommandError, ValueError) as exc:
        log.warning("no %s in %s: %s", commit or "HEAD", redact_url(url), redact_text(str(exc)))
        raise SourceError(f"no commit {commit or 'HEAD'} in {url}") from exc
    # the checkout's size, known before it is written (a small pack can hold a huge tree)
    files = [line.split()[3] for line in tree.splitlines() if len(line.split()) > 3]
    limit_mb = get_settings().source_max_mb
    if _dir_size(dest) + sum(int(n) for n in files if n.isdigit()) > limit_mb * 1024 * 1024:
        raise SourceError(f"{url} is larger than the {limit_mb} MB source limit")
    repo.git.checkout("--force", "--detach", target)
    repo.git.clean("-fdxq")
    sha = repo.head.commit.hexsha
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
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".download") as archive:
            digest = _download(link, filename, Path(archive.name))
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            try:
                extract(Path(archive.name), filename, dest)
            except SourceError:
                shutil.rmtree(dest, ignore_errors=True)
                raise
        marker.write_text(digest)
    sha = marker.read_text().strip()[:40]
    return Source(f"pypi:{name}=={ver}", "pypi", _slug(name), dest, sha, has_history=False)


def _download(url: str, what: str, out: Path) -> str:
    """Stream ``url`` into ``out`` (never whole in memory), at most ``source_max_mb``; returns the
    SHA-256 of what was written."""
    settings = get_settings()
    cap = settings.source_max_mb * 1024 * 1024
    timeout = httpx.Timeout(settings.source_connect_timeout_s, read=settings.source_connect_timeout_s)
    h, size = hashlib.sha256(), 0
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp, out.open("wb") as f:
            resp.raise_for_status()
            for chunk in resp.iter_bytes(1 << 16):
                size += len(chunk)
                if size > cap:
                    raise SourceError(f"{what} is larger than the {settings.source_max_mb} MB source limit")
                h.update(chunk)
                f.write(chunk)
    except httpx.HTTPError as exc:
        log.warning("download of %s failed: %s", redact_url(url), redact_text(str(exc)))
        raise SourceError(f"could not download {what}") from exc
    return h.hexdigest()


def _unsafe(name: str) -> bool:
    return name.startswith(("/", "\\")) or ".." in Path(name.replace("\\", "/")).parts


def extract(archive: Path, filename: str, dest: Path) -> None:
    """Unpack an sdist into ``dest`` (its single top directory removed). Refused, before anything
    is written, when a member's path is absolute or climbs out with ``..``, a link points out of
    the tree, there are more than MAX_SDIST_FILES members, or the declared sizes add up to more
    than ``source_max_mb``; written sizes are the declared ones (tarfile and zipfile enforce it)."""
    cap_mb = get_settings().source_max_mb
    total = count = 0

    def check(member: str, size: int) -> None:
        nonlocal total, count
        total, count = total + size, count + 1
        if _unsafe(member):
            raise SourceError(f"{filename}: unsafe member path {member!r}")
        if total > cap_mb * 1024 * 1024:
            raise SourceError(f"{filename} unpacks to more than the {cap_mb} MB source limit")
        if count > MAX_SDIST_FILES:
            raise SourceError(f"{filename} has more than {MAX_SDIST_FILES} files")

    tmp = dest.with_name(dest.name + ".unpack")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    check(info.filename, info.file_size)
                zf.extractall(tmp)
        else:
            with tarfile.open(archive, mode="r:*") as tf:
                members = []
                for m in tf:  # headers only; stops at the first refusal, before reading further
                    if m.issym() or m.islnk():
                        target = m.linkname if m.islnk() else str(Path(m.name).parent / m.linkname)
                        if _unsafe(target) or os.path.normpath(target).startswith(".."):
                            raise SourceError(f"{filename}: link {m.name!r} points out of the tree")
                    check(m.name, m.size)
                    members.append(m)
                tf.extractall(tmp, members=members, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"{filename} could not be unpacked: {exc}") from exc
    except SourceError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entries = list(tmp.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
    for item in root.iterdir():
        shutil.move(str(item), dest / item.name)
    shutil.rmtree(tmp, ignore_errors=True)
