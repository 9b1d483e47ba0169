"""PyPI sources (``pypi:NAME[==VERSION]``): the sdist, chosen from the simple index, streamed to
disk within ``source_max_mb`` and unpacked safely (``sdist``)."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from pathlib import Path

import httpx
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from forager.build.sources.base import Source, SourceError, SourceKind, slug
from forager.build.sources.sdist import extract
from forager.config import Settings, get_settings
from forager.redact import redact_text, redact_url

PYPI_SIMPLE = "https://pypi.org/simple"
MARKER = ".forager-sdist"
"""Written (with the download's SHA-256) once an sdist is unpacked: later builds reuse it."""
log = logging.getLogger("forager.sources")
Candidate = tuple[Version, str, str]
"""(version, filename, url) of one sdist."""


def _sdists(name: str) -> list[Candidate]:
    """The sdists the index lists for ``name`` (yanked ones left out)."""
    url = f"{PYPI_SIMPLE}/{canonicalize_name(name)}/"
    try:
        resp = httpx.get(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                         timeout=60, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SourceError(f"PyPI unreachable: {exc}") from exc
    if resp.status_code == 404:
        raise SourceError(f"no package {name!r} on PyPI")
    resp.raise_for_status()
    candidates: list[Candidate] = []
    for f in resp.json().get("files", []):
        fn = f["filename"]
        if f.get("yanked") or not (fn.endswith(".tar.gz") or fn.endswith(".zip")):
            continue
        try:
            _, ver = parse_sdist_filename(fn)
        except (ValueError, InvalidVersion):
            continue
        candidates.append((ver, fn, f["url"]))
    return candidates


def pick_sdist(name: str, version: str | None) -> tuple[str, str, str]:
    """(version, filename, url) of ``version``'s sdist, else of the newest stable release."""
    candidates = _sdists(name)
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


def download(url: str, what: str, out: Path, settings: Settings | None = None) -> str:
    """Stream ``url`` into ``out`` (never whole in memory), at most ``source_max_mb``; returns the
    SHA-256 of what was written."""
    settings = settings or get_settings()
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


def _fetch(link: str, filename: str, dest: Path, settings: Settings) -> str:
    """Download and unpack into ``dest``; the download's SHA-256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".download") as archive:
        digest = download(link, filename, Path(archive.name), settings)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        try:
            extract(Path(archive.name), filename, dest, settings.source_max_mb)
        except SourceError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return digest


def from_pypi(req: str, settings: Settings) -> Source:
    name, _, version = req.partition("==")
    name = name.strip()
    ver, filename, link = pick_sdist(name, version.strip() or None)
    dest = settings.sources_dir / f"pypi-{slug(name)}-{ver}"
    marker = dest / MARKER
    if not marker.exists():
        marker.write_text(_fetch(link, filename, dest, settings))
    return Source(f"pypi:{name}=={ver}", SourceKind.PYPI, slug(name), dest, marker.read_text().strip()[:40])
