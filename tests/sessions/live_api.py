"""The API served for real over HTTP (uvicorn) for a test: in a thread of the test process
(``serve_in_thread``, sharing its FORAGER_HOME), or as a separate process (``ApiProcess``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from forager.api.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 60, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the API process exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@contextmanager
def serve_in_thread() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


class ApiProcess:
    """``forager api`` as its own process (uvicorn), with the given FORAGER_* environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        forager = str(Path(sys.executable).parent / "forager")
        self.proc = subprocess.Popen([forager, "api", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.log = log

    def wait(self) -> None:
        try:
            wait_healthy(self.url, proc=self.proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
