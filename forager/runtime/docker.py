"""The Docker implementation of ``Runtime`` (``DockerRuntime``; its sandboxes are
``docker_sandbox.DockerSandbox``): starting containers, images, containers and volumes by label.

Every container Forager starts goes through here, so the sandbox settings live in one place:
all capabilities dropped, no-new-privileges, pids / memory / CPU limits, network off unless a
step needs it, the Docker socket never mounted. A command's timeout is enforced *inside* the
container (``timeout -k``, which signals the command's whole process group) and, as a backstop,
from outside by killing the container.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from forager.config import Settings, get_settings
from forager.errors import EngineError, ImageMissing
from forager.owner import OWNER_LABEL
from forager.runtime.base import ContainerInfo, LabelFilter, Limits, VolumeInfo
from forager.runtime.docker_sandbox import DockerSandbox
from forager.runtime.pipcache import SHARED_CACHE_ROLES, pip_cache_mount

CA_MOUNT = "/etc/forager/extra-ca.crt"
CA_MERGED = "/tmp/forager-ca.pem"
REMOVAL_WAIT_S = 30.0
"""How long ``remove_container`` waits for a removal another process started (the engine answers 409)."""
IPV6_LOOPBACK = {"net.ipv6.conf.lo.disable_ipv6": "0"}
"""A namespaced sysctl Docker allows with any network mode but the host's (``none`` included)."""
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "CURL_CA_BUNDLE")


def _label_filter(labels: LabelFilter) -> dict[str, list[str]]:
    return {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}


class DockerRuntime:
    """The local Docker engine (``docker.from_env``); ``EngineError`` when it does not answer."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        try:
            self.client = client or docker.from_env(timeout=600)
            self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means: no engine
            raise EngineError(f"no Docker engine answers: {exc}") from exc

    def start(self, image: str, *, name: str | None = None, limits: Limits | None = None,
              env: Mapping[str, str] | None = None, build_mounts: bool = False,
              labels: Mapping[str, str] | None = None, workspace: str | None = None,
              workspace_owner: str | None = None) -> DockerSandbox:
        """A running container from ``image``. With ``workspace`` and ``limits.disk_mb``, every
        place an unprivileged user can write is a sized tmpfs, the workspace filled from the image
        (owned by ``workspace_owner``, a uid, when given)."""
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
                self._fill_from_image(box, image, workspace, labels or {}, workspace_owner)
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
                sysctls=IPV6_LOOPBACK if limits.ipv6_loopback and Path("/proc/sys/net/ipv6").is_dir() else None,
                tmpfs=tmpfs or None,
                mounts=mounts or None,
                labels={"forager": "1", OWNER_LABEL: "", **labels},
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

    def _fill_from_image(self, box: DockerSandbox, image: str, path: str, labels: Mapping[str, str],
                         owner: str | None = None) -> None:
        """Copy ``path`` as the image holds it into the sandbox (where a tmpfs now hides it), as
        root or, with ``owner``, as that uid (``put_tree_as``)."""
        source = self.client.containers.create(image, command=["true"], name=f"{box.name}-source",
                                               labels={"forager": "1", OWNER_LABEL: "", **labels},
                                               network_mode="none")
        try:
            stream, _ = source.get_archive(path.rstrip("/") + "/.")
            if owner:
                box.put_tree_as(stream, path, owner)
            else:
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
    def attach(self, ref: str) -> DockerSandbox | None:
        """The running container ``ref`` (id or name) as a sandbox again (another process started
        it); None when it is gone or not running."""
        try:
            container = self.client.containers.get(ref)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"could not inspect container {ref}: {exc}") from exc
        if container.status != "running":
            return None
        tmpfs = tuple((container.attrs.get("HostConfig") or {}).get("Tmpfs") or {})
        return DockerSandbox(container, self.client, {}, tmpfs)

    def containers(self, labels: LabelFilter) -> list[ContainerInfo]:
        found = self.client.containers.list(all=True, filters=_label_filter(labels))
        return [ContainerInfo(str(c.id), str(c.name), dict(c.labels or {})) for c in found]

    def remove_container(self, ref: str) -> bool:
        """Gone when this returns: a removal another process started is waited for (then False)."""
        try:
            self.client.containers.get(ref).remove(force=True, v=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and self._gone(ref, REMOVAL_WAIT_S):
                return False
            raise EngineError(f"could not remove container {ref}: {exc}") from exc
        return True

    def _gone(self, ref: str, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                self.client.containers.get(ref)
            except docker.errors.NotFound:
                return True
            time.sleep(0.2)
        return False

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
