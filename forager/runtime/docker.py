"""The container runtime: one small interface (``Runtime`` / ``Sandbox``) and its Docker implementation.

Every container Forager starts goes through here, so the sandbox settings live in one place:
all capabilities dropped, no-new-privileges, pids / memory / CPU limits, network off unless a
step needs it, the Docker socket never mounted. A command's timeout is enforced *inside* the
container (``timeout -k``, which signals the command's whole process group) and, as a backstop,
from outside by killing the container.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import shlex
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from forager.config import get_settings
from forager.errors import EngineError, ImageMissing
from forager.text import truncate  # noqa: F401 - re-exported for callers not yet moved to forager.text

CA_MOUNT = "/etc/forager/extra-ca.crt"
CA_MERGED = "/tmp/forager-ca.pem"
PIP_CACHE = "/root/.cache/pip"


@dataclass
class ExecResult:
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class Limits:
    network: bool = False
    pids: int = 1024
    memory: str = "4g"
    cpus: float = 2.0
    read_only: bool = False
    disk_mb: int = 0
    """With a workspace: the size of each writable place (the workspace and /tmp, tmpfs counted
    against the memory limit); /var/tmp and /run/lock get small ones. 0: the image's own disk."""

    @classmethod
    def from_settings(cls, network: bool = False, disk: bool = False) -> Limits:
        s = get_settings()
        return cls(network=network, pids=s.pids_limit, memory=s.memory_limit, cpus=s.cpus,
                   disk_mb=s.episode_disk_limit_mb if disk else 0)

    def tmpfs(self, workspace: str | None) -> dict[str, str]:
        """tmpfs mounts that bound every place an unprivileged user can write (the workspace,
        /tmp, /var/tmp, /run/lock: the world-writable places of a Debian image)."""
        if not self.disk_mb or not workspace:
            return {"/tmp": "rw,exec,size=2g"} if self.read_only else {}
        size = f"rw,exec,nosuid,size={self.disk_mb}m"
        return {workspace: size, "/tmp": size, "/var/tmp": "rw,exec,nosuid,size=64m",
                "/run/lock": "rw,noexec,nosuid,size=1m"}


class Sandbox(Protocol):
    id: str
    name: str

    def exec(
        self,
        command: str,
        timeout: float,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> ExecResult: ...

    def put_files(self, files: Mapping[str, bytes], dest: str = "/") -> None: ...
    def put_dir(self, src: Path, dest: str) -> None: ...
    def get_file(self, path: str) -> bytes | None: ...
    def commit(self, tag: str, labels: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, workdir: str | None = None) -> str: ...
    def remove(self) -> None: ...


class Runtime(Protocol):
    def start(
        self,
        image: str,
        *,
        name: str | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        build_mounts: bool = False,
        labels: Mapping[str, str] | None = None,
        workspace: str | None = None,
    ) -> Sandbox: ...

    def image_exists(self, tag: str) -> bool: ...
    def image_digest(self, tag: str) -> str | None: ...
    def image_size(self, tag: str) -> int: ...
    def image_labels(self, tag: str) -> dict[str, str]: ...
    def remove_image(self, tag: str) -> None: ...
    def tag(self, image: str, tag: str) -> None: ...


def _tar_bytes(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


SKIP_DIRS = {".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", "node_modules", ".eggs"}


def _tar_dir(src: Path) -> bytes:
    buf = io.BytesIO()

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if Path(info.name).name in SKIP_DIRS or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(src), arcname=".", filter=owner)
    return buf.getvalue()


def _docker_cli() -> str:
    docker_cli = shutil.which("docker")
    if not docker_cli:
        raise EngineError("the docker command line client is not installed")
    return docker_cli


@dataclass
class DockerSandbox:
    container: Container
    client: docker.DockerClient
    env: dict[str, str] = field(default_factory=dict)
    tmpfs: tuple[str, ...] = ()
    """Paths mounted as tmpfs: the engine's archive API cannot see into them, so files there
    travel through ``tar`` inside the container."""

    def _in_tmpfs(self, path: str) -> bool:
        return any(path == m or path.startswith(m.rstrip("/") + "/") for m in self.tmpfs)

    def put_tar(self, data: bytes | Iterable[bytes], dest: str = "/", timeout: float = 600) -> None:
        """Extract a tar stream at ``dest`` as root, through ``tar`` inside the container."""
        cmd = [_docker_cli(), "exec", "-i", "-u", "root", self.id, "/bin/tar", "-x", "--no-same-owner", "-C", dest]
        with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) as proc:
            assert proc.stdin is not None and proc.stderr is not None
            try:
                for chunk in [data] if isinstance(data, bytes) else data:
                    proc.stdin.write(chunk)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            err = proc.stderr.read()
            if proc.wait(timeout=timeout) != 0:
                raise EngineError(f"could not copy files into {dest}: {err.decode(errors='replace')[:500]}")

    def get_tar(self, path: str, args: Sequence[str] = (), max_bytes: int | None = None,
                timeout: float = 600) -> bytes:
        """``tar -c`` of ``path``'s contents (``args`` add tar options such as excludes), read as
        root through the container's own ``/bin/tar`` with an empty environment."""
        cmd = [_docker_cli(), "exec", "-u", "root", self.id, "/usr/bin/env", "-i", "/bin/tar", "-c",
               "-C", path, *args, "."]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            out = proc.stdout.read(max_bytes + 1) if max_bytes else proc.stdout.read()
            if max_bytes and len(out) > max_bytes:
                proc.kill()
                raise EngineError(f"{path} holds more than {max_bytes} bytes")
            err = proc.stderr.read()
            if proc.wait(timeout=timeout) != 0:
                raise EngineError(f"could not read {path}: {err.decode(errors='replace')[:500]}")
        return out

    @property
    def id(self) -> str:
        return str(self.container.id)

    @property
    def name(self) -> str:
        return str(self.container.name)

    def exec(
        self,
        command: str,
        timeout: float,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> ExecResult:
        wrapped = f"timeout -k 5 {int(max(1, timeout))} bash -c {shlex.quote(command)}"
        merged = {**self.env, **(env or {})}
        start = time.monotonic()
        box: dict[str, object] = {}

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
        res = box["res"]
        raw = res.output or b""  # type: ignore[attr-defined]
        output = raw.decode("utf-8", errors="replace")
        code = int(res.exit_code if res.exit_code is not None else -1)  # type: ignore[attr-defined]
        timed_out = code in (124, 137) and duration >= timeout - 1
        if timed_out:
            output += f"\n[forager: command timed out after {int(timeout)}s]"
        return ExecResult(code, output, duration, timed_out)

    def put_files(self, files: Mapping[str, bytes], dest: str = "/") -> None:
        if any(self._in_tmpfs(posixpath.join(dest, name)) for name in files):
            self.put_tar(_tar_bytes(files), dest)
            return
        self.container.put_archive(dest, _tar_bytes(files))

    def put_dir(self, src: Path, dest: str) -> None:
        self.exec(f"mkdir -p {shlex.quote(dest)}", 30)
        self.container.put_archive(dest, _tar_dir(src))

    def get_file(self, path: str) -> bytes | None:
        if self._in_tmpfs(path):
            res = self.container.exec_run(["/bin/cat", "--", path], user="root", demux=True)
            return res.output[0] or b"" if res.exit_code == 0 else None
        try:
            stream, _ = self.container.get_archive(path)
        except docker.errors.NotFound:
            return None
        buf = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=buf) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    f = tar.extractfile(member)
                    return f.read() if f else None
        return None

    def commit(self, tag: str, labels: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, workdir: str | None = None) -> str:
        changes = [f"LABEL {shlex.quote(k)}={shlex.quote(v)}" for k, v in (labels or {}).items()]
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


class DockerRuntime:
    def __init__(self, client: docker.DockerClient | None = None) -> None:
        try:
            self.client = client or docker.from_env(timeout=600)
            self.client.ping()
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"no Docker engine answers: {exc}") from exc

    def start(
        self,
        image: str,
        *,
        name: str | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        build_mounts: bool = False,
        labels: Mapping[str, str] | None = None,
        workspace: str | None = None,
    ) -> DockerSandbox:
        """A running container from ``image``. With ``workspace`` and ``limits.disk_mb``, every
        place an unprivileged user can write is a sized tmpfs, the workspace filled from the image."""
        settings = get_settings()
        limits = limits or Limits.from_settings()
        name = name or f"forager-{uuid.uuid4().hex[:16]}"
        if name:  # a redelivered job finds and removes the orphan of its earlier attempt
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(name).remove(force=True)
        # Mounts (not `volumes`): docker-py would also declare volumes in the container config,
        # and a commit would then bake VOLUME entries into the image.
        mounts: list[Mount] = []
        sandbox_env = dict(env or {})
        if build_mounts:  # the shared cache is writable only where no repository code runs
            shared = (labels or {}).get("forager.role") in SHARED_CACHE_ROLES
            mounts.append(pip_cache_mount(self.client, name, shared))
            ca = settings.resolved_ca_bundle()
            if ca:
                mounts.append(Mount(CA_MOUNT, str(Path(ca).resolve()), type="bind", read_only=True))
                for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO",
                            "CURL_CA_BUNDLE"):
                    sandbox_env[var] = CA_MERGED
        tmpfs = limits.tmpfs(workspace)
        try:
            container = self.client.containers.run(
                image,
                command=["sleep", "infinity"],
                name=name,
                detach=True,
                init=True,
                network_mode="bridge" if limits.network else "none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=limits.pids,
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                nano_cpus=int(limits.cpus * 1e9),
                read_only=limits.read_only,
                tmpfs=tmpfs or None,
                mounts=mounts or None,
                labels={"forager": "1", **(labels or {})},
                environment=sandbox_env,
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(f"image not found: {image}") from exc
        except docker.errors.APIError as exc:
            self._remove_named(name)
            raise EngineError(f"could not start a container from {image}: {exc}") from exc
        except BaseException:  # a signal while the engine creates it: the container must not stay
            self._remove_named(name)
            raise
        box = DockerSandbox(container, self.client, {}, tuple(tmpfs))
        try:
            if workspace and workspace in tmpfs:
                self._fill_from_image(box, image, workspace, labels or {})
        except BaseException:
            box.remove()
            raise
        if build_mounts and settings.resolved_ca_bundle():
            box.exec(
                f"cat /etc/ssl/certs/ca-certificates.crt {CA_MOUNT} > {CA_MERGED} 2>/dev/null || "
                f"cp {CA_MOUNT} {CA_MERGED}", 30)
        return box

    def _remove_named(self, name: str) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.client.containers.get(name).remove(force=True)

    def _fill_from_image(self, box: DockerSandbox, image: str, path: str, labels: Mapping[str, str]) -> None:
        """Copy ``path`` as the image holds it into the sandbox (where a tmpfs now hides it)."""
        source = self.client.containers.create(image, command=["true"], labels={"forager": "1", **labels},
                                               name=f"{box.name}-source", network_mode="none")
        try:
            stream, _ = source.get_archive(path.rstrip("/") + "/.")
            box.put_tar(stream, path)
        except docker.errors.NotFound:
            pass  # the image has no such directory: the workspace starts empty
        finally:
            with contextlib.suppress(docker.errors.APIError):
                source.remove(force=True)

    def _image(self, tag: str):  # type: ignore[no-untyped-def]
        try:
            return self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None

    def image_exists(self, tag: str) -> bool:
        return self._image(tag) is not None

    def image_digest(self, tag: str) -> str | None:
        img = self._image(tag)
        return str(img.id) if img is not None else None

    def image_size(self, tag: str) -> int:
        img = self._image(tag)
        return int(img.attrs.get("Size", 0)) if img is not None else 0

    def image_labels(self, tag: str) -> dict[str, str]:
        img = self._image(tag)
        return dict(img.labels or {}) if img is not None else {}

    def remove_image(self, tag: str) -> None:
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.remove(tag, force=True)

    def tag(self, image: str, tag: str) -> None:
        repo, _, version = tag.rpartition(":")
        self.client.images.get(image).tag(repo, version)


_runtime: DockerRuntime | None = None


def get_runtime() -> DockerRuntime:
    global _runtime
    if _runtime is None:
        _runtime = DockerRuntime()
    return _runtime


# ----------------------------------------------------------------------------- the pip cache
SHARED_CACHE_ROLES = {"build-base", "build-deps"}
"""Container roles (label ``forager.role``) that install only index packages: they write the shared
pip cache. Every other build container runs repository code and gets a copy-on-write view."""
OVERLAY_LABEL = "forager.pip-overlay"


def pip_cache_mount(client: docker.DockerClient, name: str | None, shared: bool) -> Mount:
    """The pip cache of a build container. ``shared``: the shared volume itself, read-write.
    Otherwise an overlay whose lower layer is the shared volume and whose upper and work layers
    are two volumes of this container only (``discard_pip_overlay`` removes them): the build reads
    every cached wheel, and whatever it writes or deletes never reaches the shared volume."""
    volume = get_settings().pip_cache_volume
    if shared:
        return Mount(PIP_CACHE, volume, type="volume")
    try:
        lower = client.volumes.get(volume)
    except docker.errors.NotFound:
        lower = client.volumes.create(volume)
    import os
    import socket
    import uuid

    name = name or f"forager-{uuid.uuid4().hex[:12]}"
    discard_pip_overlay(client, name)  # left by an earlier attempt of the same build
    labels = {OVERLAY_LABEL: name, "forager.owner": f"{socket.gethostname()}:{os.getpid()}"}
    upper = client.volumes.create(f"{name}-pip-upper", labels=labels)
    work = client.volumes.create(f"{name}-pip-work", labels=labels)
    options = {"type": "overlay", "device": "overlay",
               "o": f"lowerdir={lower.attrs['Mountpoint']},upperdir={upper.attrs['Mountpoint']},"
                    f"workdir={work.attrs['Mountpoint']}"}
    # no source: an anonymous volume, removed with the container (remove(v=True))
    return Mount(PIP_CACHE, None, type="volume", driver_config=docker.types.DriverConfig("local", options))


def discard_pip_overlay(client: docker.DockerClient, name: str) -> list[str]:
    """Remove the overlay volumes of container ``name`` once it is gone; returns their names. A
    volume still mounted by a container is left alone."""
    removed = []
    for vol in client.volumes.list(filters={"label": f"{OVERLAY_LABEL}={name}"}):
        with contextlib.suppress(docker.errors.APIError):
            vol.remove()
            removed.append(str(vol.name))
    return removed
