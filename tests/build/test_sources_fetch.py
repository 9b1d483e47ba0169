"""Sources as an attacker would give them: servers that hang or are not git servers, oversized
repositories and downloads, credentials in URLs. Every server here listens on 127.0.0.1 only."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import unavailable

from forager.build.sources import SourceError, pypi, resolve
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
        unavailable("no Redis on 127.0.0.1:6379")
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


@pytest.mark.services
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
        pypi.download(f"http://127.0.0.1:{port}/big.tar.gz", "big.tar.gz", out)
    assert out.stat().st_size <= 1024 * 1024
    handler.body = b"y" * 1000
    digest = pypi.download(f"http://127.0.0.1:{port}/ok.tar.gz", "ok.tar.gz", out)
    assert out.read_bytes() == b"y" * 1000 and len(digest) == 64


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
