"""Crafted sdists: huge declared members, too many files, unsafe paths and links are refused
before anything is written."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from pathlib import Path

import pytest

from forager.build.sources import SourceError, sdist
from forager.config import reset_settings


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_SOURCE_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("FORAGER_SOURCE_MAX_MB", "1")
    reset_settings()


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _refused(archive: Path, dest: Path, match: str) -> None:
    dest.mkdir()
    with pytest.raises(SourceError, match=match):
        sdist.extract(archive, archive.name, dest)
    assert list(dest.iterdir()) == [] and not dest.with_name(dest.name + ".unpack").exists()


def test_sdist_declaring_a_huge_member_is_refused_without_writing_it(limits: None, tmp_path: Path) -> None:
    huge = tarfile.TarInfo("pkg-1.0/huge.bin")
    huge.size = 2 * 1024**3  # declared 2 GiB, the data is never there
    header = huge.tobuf(format=tarfile.GNU_FORMAT)
    archive = tmp_path / "pkg-1.0.tar.gz"
    archive.write_bytes(gzip.compress(header + b"\0" * 4096))
    start = time.monotonic()
    _refused(archive, tmp_path / "out", "unpacks to more than the 1 MB source limit")
    assert time.monotonic() - start < 5


def test_sdist_with_too_many_files_or_unsafe_members_is_refused(limits: None, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdist, "MAX_SDIST_FILES", 50)
    many = _tar_gz(tmp_path / "many-1.0.tar.gz", [_file(f"many-1.0/f{i}.py") for i in range(51)])
    _refused(many, tmp_path / "o1", "more than 50 files")
    _refused(_tar_gz(tmp_path / "up-1.0.tar.gz", [_file("up-1.0/../../evil.py")]), tmp_path / "o2", "unsafe")
    _refused(_tar_gz(tmp_path / "abs-1.0.tar.gz", [_file("/tmp/evil.py")]), tmp_path / "o3", "unsafe")
    link = tarfile.TarInfo("ln-1.0/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    _refused(_tar_gz(tmp_path / "ln-1.0.tar.gz", [(link, None)]), tmp_path / "o4", "points out of the tree")
    assert not (tmp_path / "evil.py").exists()

    fine = _tar_gz(tmp_path / "fine-1.0.tar.gz", [_file("fine-1.0/setup.py", b"print(1)\n"),
                                                   _file("fine-1.0/tests/test_a.py", b"")])
    (tmp_path / "o5").mkdir()
    sdist.extract(fine, fine.name, tmp_path / "o5")
    assert sorted(p.name for p in (tmp_path / "o5").iterdir()) == ["setup.py", "tests"]


def test_a_link_that_climbs_within_the_tree_is_kept(limits: None, tmp_path: Path) -> None:
    """pyparsing 3.3's sdist links docs/CONTRIBUTING.md -> ../CONTRIBUTING.md: inside the tree, so the
    source is kept (three releases once failed as 'points out of the tree'); one more .. still refuses."""
    inner = tarfile.TarInfo("pp-1.0/docs/CONTRIBUTING.md")
    inner.type, inner.linkname = tarfile.SYMTYPE, "../CONTRIBUTING.md"
    ok = _tar_gz(tmp_path / "pp-1.0.tar.gz", [_file("pp-1.0/CONTRIBUTING.md", b"hello\n"), (inner, None)])
    (tmp_path / "o1").mkdir()
    sdist.extract(ok, ok.name, tmp_path / "o1")
    assert (tmp_path / "o1" / "docs" / "CONTRIBUTING.md").read_text() == "hello\n"
    out = tarfile.TarInfo("pp-1.0/docs/x")
    out.type, out.linkname = tarfile.SYMTYPE, "../../../x"
    _refused(_tar_gz(tmp_path / "pq-1.0.tar.gz", [(out, None)]), tmp_path / "o2", "points out of the tree")
