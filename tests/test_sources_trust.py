"""Sources as an attacker would give them: servers that hang or are not git servers, oversized
repositories and downloads, and crafted sdists. Every server here listens on 127.0.0.1 only."""

from __future__ import annotations

import gzip
import http.server
import io
import os
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forager.build import sources
from forager.build.sources import SourceError, resolve
from forager.config import reset_settings


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_SOURCE_CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("FORAGER_SOURCE_MAX_MB", "1")
    reset_settings()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"<html>hello</html>"

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[int, type[_Handler]]]:
    handler = type("H", (_Handler,), {})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], handler
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def redis_port() -> int:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return 6379


def message(url: str) -> str:
    with pytest.raises(SourceError) as exc:
        resolve(url)
    return str(exc.value).replace(url, "URL")


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_silent_server_is_given_up_after_the_connect_timeout(limits: None, silent_server: int,
                                                            scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{silent_server}/repo.git"
    start = time.monotonic()
    assert message(url) == "could not fetch URL: unreachable or not a repository"
    assert time.monotonic() - start < 10  # connect timeout 2 s, not the 900 s whole-clone limit


def test_closed_port_http_server_and_redis_look_the_same(limits: None, http_server: tuple[int, type]) -> None:
    urls = [f"http://127.0.0.1:{closed_port()}/repo.git", f"http://127.0.0.1:{http_server[0]}/repo.git",
            f"http://127.0.0.1:{redis_port()}/repo.git", f"git://127.0.0.1:{redis_port()}/repo.git"]
    messages = {message(u) for u in urls}
    assert messages == {"could not fetch URL: unreachable or not a repository"}


def test_option_injection_and_ext_transport_are_refused(limits: None, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    for url in [f"--upload-pack=touch {pwned};.git", f"ext::sh -c touch% {pwned}.git"]:
        with pytest.raises(SourceError):
            resolve(url)
    assert not pwned.exists()


def _bare_repo(root: Path, big_bytes: int) -> Path:
    work = root / "work"
    work.mkdir(parents=True)
    (work / "big.bin").write_bytes(os.urandom(big_bytes))
    (work / "test_x.py").write_text("def test_x():\n    pass\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=work, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "bare.git")], check=True)
    return root / "bare.git"


def test_git_clone_past_the_size_limit_is_refused(limits: None, tmp_path: Path) -> None:
    small = resolve(str(_bare_repo(tmp_path / "small", 100_000)))
    assert (small.path / "big.bin").stat().st_size == 100_000
    with pytest.raises(SourceError, match="larger than the 1 MB source limit"):
        resolve(str(_bare_repo(tmp_path / "big", 3_000_000)))


def test_download_is_streamed_to_disk_and_capped(limits: None, http_server: tuple[int, type[_Handler]],
                                                 tmp_path: Path) -> None:
    port, handler = http_server
    handler.body = b"x" * 3_000_000
    out = tmp_path / "dl"
    with pytest.raises(SourceError, match="larger than the 1 MB"):
        sources._download(f"http://127.0.0.1:{port}/big.tar.gz", "big.tar.gz", out)
    assert out.stat().st_size <= 1024 * 1024
    handler.body = b"y" * 1000
    digest = sources._download(f"http://127.0.0.1:{port}/ok.tar.gz", "ok.tar.gz", out)
    assert out.read_bytes() == b"y" * 1000 and len(digest) == 64


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
        sources.extract(archive, archive.name, dest)
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
    monkeypatch.setattr(sources, "MAX_SDIST_FILES", 50)
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
    sources.extract(fine, fine.name, tmp_path / "o5")
    assert sorted(p.name for p in (tmp_path / "o5").iterdir()) == ["setup.py", "tests"]


def test_credentials_in_a_source_stay_out_of_errors_logs_and_build_logs(caplog: pytest.LogCaptureFixture) -> None:
    """A failed clone of https://user:secret@host/... logged and stored the secret."""
    import logging

    from forager.build.builder import build
    from forager.store import db

    caplog.set_level(logging.DEBUG)
    result = build("https://deploy:s3cr3t-pass@127.0.0.1:9/team/repo.git")
    assert result.status == "failed" and "unreachable" in (result.error or "")
    with db.session() as s:
        stored = " ".join(f"{r.command} {r.output}" for r in s.query(db.BuildLog).all())
        stored += " ".join(str(b.error) for b in s.query(db.Build).all())
    for text in (result.error or "", caplog.text, stored):
        assert "s3cr3t-pass" not in text
