"""The Docker implementation of the runtime protocols (``DockerRuntime``, ``DockerSandbox``).

Every container Forager starts goes through here, so the sandbox settings live in one place:
all capabilities dropped, no-new-privileges, pids / memory / CPU limits, network off unless a
step needs it, the Docker socket never mounted. A command's timeout is enforced *inside* the
container (``timeout -k``, which signals the command's whole process group) and, as a backstop,
from outside by killing the container.
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from forager.config import Settings, get_settings
from forager.errors import EngineError, ImageMissing
from forager.runtime import tario
from forager.runtime.base import ContainerInfo, ExecResult, LabelFilter, Limits, VolumeInfo, exec_result
from forager.runtime.pipcache import SHARED_CACHE_ROLES, pip_cache_mount

CA_MOUNT = "/etc/forager/extra-ca.crt"
CA_MERGED = "/tmp/forager-ca.pem"
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "CURL_CA_BUNDLE")


def _docker_cli() -> str:
    docker_cli = shutil.which("docker")
    if not docker_cli:
        raise EngineError("the docker command line client is not installed")
    return docker_cli


def _label_filter(labels: LabelFilter) -> dict[str, list[str]]:
    return {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}


@dataclass
class DockerSandbox:
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
        found = self.client.api.containers(all=True, filters={"id": self.id}, size=True)
        return int((found[0].get("SizeRw") or 0) if found else 0)

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


def _result(res: Any, duration: float, timeout: float) -> ExecResult:
    """An ``exec_run`` answer as an ``ExecResult``."""
    output = (res.output or b"").decode("utf-8", errors="replace")
    return exec_result(int(res.exit_code if res.exit_code is not None else -1), output, duration, timeout)


class DockerRuntime:
    def __init__(self, client: docker.DockerClient | None = None) -> None:
        try:
            self.client = client or docker.from_env(timeout=600)
            self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means: no engine
            raise EngineError(f"no Docker engine answers: {exc}") from exc

    def start(self, image: str, *, name: str | None = None, limits: Limits | None = None,
              env: Mapping[str, str] | None = None, build_mounts: bool = False,
              labels: Mapping[str, str] | None = None, workspace: str | None = None) -> DockerSandbox:
        """A running container from ``image``. With ``workspace`` and ``limits.disk_mb``, every
        place an unprivileged user can write is a sized tmpfs, the workspace filled from the image."""
        settings = get_settings()
        limits = limits or Limits.from_settings(settings=settings)
        name = name or f"forager-{uuid.uuid4().hex[:16]}"
        # a redelivered job finds and removes the orphan of its earlier attempt
        self.remove_container(name)
        sandbox_env = dict(env or {})
        mounts = self._build_mounts(settings, name, labels or {}, sandbox_env) if build_mounts else []
        tmpfs = limits.tmpfs(workspace)
        container = self._run(image, name, limits, tmpfs, mounts, labels or {}, sandbox_env)
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

    def _build_mounts(self, settings: Settings, name: str, labels: Mapping[str, str],
                      env: dict[str, str]) -> list[Mount]:
        """The pip cache and the extra CA bundle of a build container (``env`` gets the CA variables).
        Mounts (not ``volumes``): docker-py would also declare volumes in the container config, and
        a commit would then bake VOLUME entries into the image."""
        shared = labels.get("forager.role") in SHARED_CACHE_ROLES  # writable only where no repository code runs
        mounts = [pip_cache_mount(self, settings.pip_cache_volume, name, shared)]
        ca = settings.resolved_ca_bundle()
        if ca:
            mounts.append(Mount(CA_MOUNT, str(Path(ca).resolve()), type="bind", read_only=True))
            env.update(dict.fromkeys(CA_VARS, CA_MERGED))
        return mounts

    def _run(self, image: str, name: str, limits: Limits, tmpfs: dict[str, str], mounts: list[Mount],
             labels: Mapping[str, str], env: dict[str, str]) -> Container:
        try:
            return self.client.containers.run(
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
                labels={"forager": "1", **labels},
                environment=env,
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(f"image not found: {image}") from exc
        except docker.errors.APIError as exc:
            self._remove_named(name)
            raise EngineError(f"could not start a container from {image}: {exc}") from exc
        except BaseException:  # a signal while the engine creates it: the container must not stay
            self._remove_named(name)
            raise

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

    # -- images
    def _image(self, tag: str) -> Any:
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

    def push(self, ref: str) -> None:
        repo, _, version = ref.rpartition(":")
        for line in self.client.images.push(repo, tag=version, stream=True, decode=True):
            if isinstance(line, dict) and line.get("error"):
                raise EngineError(f"push of {ref} failed: {line['error']}")

    def pull(self, ref: str) -> None:
        try:
            self.client.images.pull(ref)  # docker-py splits off the tag (none: latest)
        except docker.errors.NotFound as exc:
            raise ImageMissing(str(exc)) from exc
        except docker.errors.DockerException as exc:
            raise EngineError(str(exc)) from exc

    # -- containers and volumes
    def containers(self, labels: LabelFilter) -> list[ContainerInfo]:
        found = self.client.containers.list(all=True, filters=_label_filter(labels))
        return [ContainerInfo(str(c.id), str(c.name), dict(c.labels or {})) for c in found]

    def remove_container(self, ref: str) -> bool:
        try:
            self.client.containers.get(ref).remove(force=True, v=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"could not remove container {ref}: {exc}") from exc
        return True

    def volumes(self, labels: LabelFilter) -> list[VolumeInfo]:
        found = self.client.volumes.list(filters=_label_filter(labels))
        return [VolumeInfo(str(v.name), dict(v.attrs.get("Labels") or {})) for v in found]

    def remove_volume(self, name: str) -> bool:
        try:
            self.client.volumes.get(name).remove()
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            raise EngineError(f"could not remove volume {name}: {exc}") from exc
        return True
