"""One Docker container as a ``Sandbox``: commands through the engine's exec API (timeout inside,
killing the container as the backstop), files through the archive API or ``tar`` inside the
container (tmpfs places), the interactive process through the ``docker exec -i`` CLI."""

from __future__ import annotations

import contextlib
import posixpath
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from forager.errors import EngineError
from forager.files import tree_size
from forager.owner import OWNER_LABEL
from forager.runtime import tario
from forager.runtime.base import ExecResult, exec_result
from forager.runtime.pipcache import OVERLAY_LABEL


def _docker_cli() -> str:
    docker_cli = shutil.which("docker")
    if not docker_cli:
        raise EngineError("the docker command line client is not installed")
    return docker_cli


@dataclass
class DockerSandbox:
    """A running container (started by ``DockerRuntime.start``); removed on leaving ``with``."""

    container: Container
    client: docker.DockerClient
    env: dict[str, str] = field(default_factory=dict)
    tmpfs: tuple[str, ...] = ()
    """Paths mounted as tmpfs: the engine's archive API cannot see into them, so files there
    travel through ``tar`` inside the container."""
    pid_namespace: bool = True

    @property
    def id(self) -> str:
        return str(self.container.id)

    @property
    def name(self) -> str:
        return str(self.container.name)

    def path(self, path: str) -> str:
        return path

    def _in_tmpfs(self, path: str) -> bool:
        return any(path == m or path.startswith(m.rstrip("/") + "/") for m in self.tmpfs)

    def interactive(self, argv: Sequence[str], *, user: str = "root", env: Mapping[str, str] | None = None,
                    workdir: str = "/") -> subprocess.Popen[bytes]:
        cmd = [_docker_cli(), "exec", "-i", "-u", user, "-w", workdir]
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        cmd += [self.id, *argv]
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, bufsize=0)

    def put_tar(self, data: bytes | Iterable[bytes], dest: str = "/", timeout: float = 600) -> None:
        """Extract a tar stream at ``dest`` as root, through ``tar`` inside the container."""
        cmd = [_docker_cli(), "exec", "-i", "-u", "root", self.id, "/bin/tar", "-x", "--no-same-owner", "-C", dest]
        tario.feed(cmd, data, dest, timeout)

    def put_tree_as(self, data: bytes | Iterable[bytes], dest: str, owner: str, timeout: float = 600) -> None:
        """Extract a tar stream of a tree (members ``./…``) at ``dest`` as ``owner`` (a uid), who
        then owns every file, and open it to everyone as the image's tree is (``a+rwX``; links
        untouched). ``dest`` itself (a root-owned mount) is left as it is: its ``.`` member is
        stripped, since only root could change it and the sandbox's root holds no capability: root,
        who owns it, opens it first (a tmpfs over an image's directory takes that directory's mode)."""
        user = f"{owner}:{owner}"
        q = shlex.quote(dest)
        res = self.exec(f"chmod a+rwx {q}", 60, user="root")
        if not res.ok:
            raise EngineError(f"could not open {dest} to {owner}: {res.output.strip()[-300:]}")
        cmd = [_docker_cli(), "exec", "-i", "-u", user, self.id, "/bin/tar", "-x", "--no-same-owner",
               "--strip-components=1", "-C", dest]
        tario.feed(cmd, data, dest, timeout)
        res = self.exec(f"find {q} -mindepth 1 ! -type l -exec chmod a+rwX {{}} +", timeout, user=user)
        if not res.ok:
            raise EngineError(f"could not open {dest} to everyone as {owner}: {res.output.strip()[-300:]}")

    def get_tar(self, path: str, args: Sequence[str] = (), max_bytes: int | None = None,
                timeout: float = 600) -> bytes:
        """``tar -c`` of ``path``'s contents (``args`` add tar options such as excludes), read as
        root through the container's own ``/bin/tar`` with an empty environment."""
        cmd = [_docker_cli(), "exec", "-u", "root", self.id, "/usr/bin/env", "-i", "/bin/tar", "-c",
               "-C", path, *args, "."]
        return tario.drain(cmd, path, max_bytes, timeout)

    def exec(self, command: str, timeout: float, workdir: str | None = None,
             env: Mapping[str, str] | None = None, user: str | None = None) -> ExecResult:
        wrapped = f"timeout -k 5 {int(max(1, timeout))} bash -c {shlex.quote(command)}"
        merged = {**self.env, **(env or {})}
        start = time.monotonic()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["res"] = self.container.exec_run(
                    ["bash", "-c", wrapped], workdir=workdir, environment=merged, user=user or "",
                    demux=False,
                )
            except Exception as exc:  # noqa: BLE001 - surfaced below as a failed result
                box["err"] = exc

        worker = threading.Thread(target=target, daemon=True)
        worker.start()
        worker.join(timeout + 30)
        duration = time.monotonic() - start
        if worker.is_alive():  # the in-container timeout did not end it: kill the container
            self.kill()
            return ExecResult(137, "[forager: command killed after timeout; container stopped]",
                              duration, timed_out=True)
        if "err" in box:
            return ExecResult(-1, f"[forager: exec failed: {box['err']}]", duration)
        return _result(box["res"], duration, timeout)

    def put_files(self, files: Mapping[str, bytes], dest: str = "/") -> None:
        if any(self._in_tmpfs(posixpath.join(dest, name)) for name in files):
            self.put_tar(tario.tar_bytes(files), dest)
            return
        self.container.put_archive(dest, tario.tar_bytes(files))

    def put_dir(self, src: Path, dest: str) -> None:
        self.exec(f"mkdir -p {shlex.quote(dest)}", 30)
        self.container.put_archive(dest, tario.tar_dir(src))

    def get_file(self, path: str) -> bytes | None:
        if self._in_tmpfs(path):
            res = self.container.exec_run(["/bin/cat", "--", path], user="root", demux=True)
            return res.output[0] or b"" if res.exit_code == 0 else None
        try:
            stream, _ = self.container.get_archive(path)
        except docker.errors.NotFound:
            return None
        return tario.first_file(b"".join(stream))

    def disk_usage(self) -> int:
        """Bytes this container wrote: its writable layer plus its private volumes (the pip cache
        overlay's upper layer), the latter measured on this host's disk where it can be read."""
        found = self.client.api.containers(all=True, filters={"id": self.id}, size=True)
        written = int((found[0].get("SizeRw") or 0) if found else 0)
        for vol in self.client.volumes.list(filters={"label": f"{OVERLAY_LABEL}={self.name}"}):
            if str(vol.name).endswith("-pip-upper"):
                written += tree_size(Path(vol.attrs.get("Mountpoint") or "/nonexistent"))
        return written

    def commit(self, tag: str, labels: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, workdir: str | None = None) -> str:
        # an image has no owner: containers made from it must not inherit the committing one
        owned = {OWNER_LABEL: "", **(labels or {})}
        changes = [f"LABEL {shlex.quote(k)}={shlex.quote(v)}" for k, v in owned.items()]
        changes += [f"ENV {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
        if workdir:
            changes.append(f"WORKDIR {workdir}")
        changes.append('CMD ["/bin/bash"]')
        repo, _, version = tag.rpartition(":")
        image = self.container.commit(repository=repo or tag, tag=version if repo else "latest",
                                      changes=changes)
        return str(image.id)

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.container.kill()

    def remove(self) -> None:
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            time.sleep(1)
            with contextlib.suppress(docker.errors.APIError):
                self.container.remove(force=True, v=True)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _result(res: Any, duration: float, timeout: float) -> ExecResult:
    """An ``exec_run`` answer as an ``ExecResult``."""
    output = (res.output or b"").decode("utf-8", errors="replace")
    return exec_result(int(res.exit_code if res.exit_code is not None else -1), output, duration, timeout)
