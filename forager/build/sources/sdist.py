"""Unpacking an sdist safely: members are checked from their headers before anything is written."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

from forager.build.sources.base import SourceError
from forager.config import get_settings

MAX_SDIST_FILES = 100_000


def unsafe(name: str) -> bool:
    """An absolute member path, or one that climbs out with ``..``."""
    return name.startswith(("/", "\\")) or ".." in Path(name.replace("\\", "/")).parts


class _Budget:
    """Counts members and declared sizes; refuses past the limits."""

    def __init__(self, filename: str, cap_mb: int) -> None:
        self.filename, self.cap_mb = filename, cap_mb
        self.total = self.count = 0

    def check(self, member: str, size: int) -> None:
        self.total, self.count = self.total + size, self.count + 1
        if unsafe(member):
            raise SourceError(f"{self.filename}: unsafe member path {member!r}")
        if self.total > self.cap_mb * 1024 * 1024:
            raise SourceError(f"{self.filename} unpacks to more than the {self.cap_mb} MB source limit")
        if self.count > MAX_SDIST_FILES:
            raise SourceError(f"{self.filename} has more than {MAX_SDIST_FILES} files")


def _unzip(archive: Path, into: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            budget.check(info.filename, info.file_size)
        zf.extractall(into)


def _untar(archive: Path, into: Path, budget: _Budget) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        members = []
        for m in tf:  # headers only; stops at the first refusal, before reading further
            if m.issym() or m.islnk():
                target = m.linkname if m.islnk() else str(Path(m.name).parent / m.linkname)
                inside = os.path.normpath(target.replace("\\", "/"))  # docs/X -> ../X stays in the tree
                if target.startswith(("/", "\\")) or inside == ".." or inside.startswith("../"):
                    raise SourceError(f"{budget.filename}: link {m.name!r} points out of the tree")
            budget.check(m.name, m.size)
            members.append(m)
        tf.extractall(into, members=members, filter="data")


def extract(archive: Path, filename: str, dest: Path, max_mb: int | None = None) -> None:
    """Unpack an sdist into ``dest`` (its single top directory removed). Refused, before anything
    is written, when a member's path is absolute or climbs out with ``..``, a link points out of
    the tree, there are more than MAX_SDIST_FILES members, or the declared sizes add up to more
    than ``max_mb`` (default: ``source_max_mb``); written sizes are the declared ones (tarfile and
    zipfile enforce it)."""
    budget = _Budget(filename, get_settings().source_max_mb if max_mb is None else max_mb)
    tmp = dest.with_name(dest.name + ".unpack")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        (_unzip if filename.endswith(".zip") else _untar)(archive, tmp, budget)
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
