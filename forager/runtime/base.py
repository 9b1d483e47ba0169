"""What every container runtime offers: the ``Runtime`` and ``Sandbox`` protocols and their values.

Callers outside ``forager.runtime`` use only these: starting sandboxes, running commands in them,
moving files and tar streams in and out, an interactive process (the persistent shell), images,
and finding or removing containers and volumes by label. Errors are ``forager.errors`` ones:
``EngineError`` (transient), ``ImageMissing`` (permanent).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from forager.config import Settings, get_settings

SANDBOX_ENV = "FORAGER_SANDBOX"
"""Set to the sandbox id in every process a runtime without its own process namespace starts
(``Sandbox.pid_namespace`` false): how that sandbox's processes are told from the host's."""

LabelFilter = Mapping[str, str | None]
"""Labels to match: ``{key: value}`` the label has that value, ``{key: None}`` the label is set."""


@dataclass
class ExecResult:
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def exec_result(code: int, output: str, duration: float, timeout: float) -> ExecResult:
    """A finished command's result; an exit of 124/137 at the timeout is a timeout, noted in the output."""
    timed_out = code in (124, 137) and duration >= timeout - 1
    if timed_out:
        output += f"\n[forager: command timed out after {int(timeout)}s]"
    return ExecResult(code, output, duration, timed_out)


@dataclass
class Limits:
    network: bool = False
    pids: int = field(default_factory=lambda: get_settings().pids_limit)
    memory: str = field(default_factory=lambda: get_settings().memory_limit)
    cpus: float = field(default_factory=lambda: get_settings().cpus)
    read_only: bool = False
    disk_mb: int = 0
    """With a workspace: the size of each writable place (the workspace and /tmp, tmpfs counted
    against the memory limit); /var/tmp and /run/lock get small ones. 0: the image's own disk."""
    ipv6_loopback: bool = field(default_factory=lambda: get_settings().ipv6_loopback)
    """``::1`` usable in the container (Docker disables IPv6 even on its loopback by default)."""

    @classmethod
    def from_settings(cls, network: bool = False, disk: bool = False, settings: Settings | None = None) -> Limits:
        s = settings or get_settings()
        return cls(network=network, pids=s.pids_limit, memory=s.memory_limit, cpus=s.cpus,
                   disk_mb=s.episode_disk_limit_mb if disk else 0, ipv6_loopback=s.ipv6_loopback)

    def tmpfs(self, workspace: str | None) -> dict[str, str]:
        """tmpfs mounts that bound every place an unprivileged user can write (the workspace,
        /tmp, /var/tmp, /run/lock: the world-writable places of a Debian image)."""
        if not self.disk_mb or not workspace:
            return {"/tmp": "rw,exec,size=2g"} if self.read_only else {}
        size = f"rw,exec,nosuid,size={self.disk_mb}m"
        return {workspace: size, "/tmp": size, "/var/tmp": "rw,exec,nosuid,size=64m",
                "/run/lock": "rw,noexec,nosuid,size=1m"}


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


class Sandbox(Protocol):
    """One running container (or what stands for one)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def pid_namespace(self) -> bool:
        """True when every process of a user in the sandbox belongs to the sandbox."""
        ...

    def path(self, path: str) -> str:
        """Where the sandbox path ``path`` is for the sandbox's own processes."""
        ...

    def exec(self, command: str, timeout: float, workdir: str | None = None,
             env: Mapping[str, str] | None = None, user: str | None = None) -> ExecResult:
        """``bash -c command`` with a timeout that ends its whole process group."""
        ...

    def interactive(self, argv: Sequence[str], *, user: str = "root", env: Mapping[str, str] | None = None,
                    workdir: str = "/") -> subprocess.Popen[bytes]:
        """A process in the sandbox with piped stdin and stdout (stderr joined to stdout)."""
        ...

    def put_files(self, files: Mapping[str, bytes], dest: str = "/") -> None: ...
    def put_dir(self, src: Path, dest: str) -> None: ...
    def get_file(self, path: str) -> bytes | None: ...

    def put_tar(self, data: bytes | Iterable[bytes], dest: str = "/", timeout: float = 600) -> None:
        """Extract a tar stream at ``dest`` as root."""
        ...

    def get_tar(self, path: str, args: Sequence[str] = (), max_bytes: int | None = None,
                timeout: float = 600) -> bytes:
        """``tar -c`` of ``path``'s contents as root (``args``: extra tar options)."""
        ...

    def disk_usage(self) -> int:
        """Bytes the sandbox has written outside volumes and tmpfs."""
        ...

    def commit(self, tag: str, labels: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, workdir: str | None = None) -> str: ...
    def kill(self) -> None: ...
    def remove(self) -> None: ...
    def __enter__(self) -> Sandbox: ...
    def __exit__(self, *exc: object) -> None: ...


class Runtime(Protocol):
    """Starts sandboxes from images and manages images, containers and volumes."""

    def start(self, image: str, *, name: str | None = None, limits: Limits | None = None,
              env: Mapping[str, str] | None = None, build_mounts: bool = False,
              labels: Mapping[str, str] | None = None, workspace: str | None = None,
              workspace_owner: str | None = None) -> Sandbox:
        """A running sandbox from ``image``. ``workspace_owner`` (a uid): the workspace filled from
        the image belongs to that user, as the image's tree belongs to root where it was built and
        its tests validated (a test that sets a file's times needs to own it)."""
        ...

    def image_exists(self, tag: str) -> bool: ...
    def image_digest(self, tag: str) -> str | None: ...
    def image_size(self, tag: str) -> int: ...
    def image_labels(self, tag: str) -> dict[str, str]: ...
    def remove_image(self, tag: str) -> None: ...
    def tag(self, image: str, tag: str) -> None: ...
    def push(self, ref: str) -> None:
        """Push ``ref`` (``repository:tag``) to its registry; ``EngineError`` when it fails."""
        ...

    def pull(self, ref: str) -> None:
        """Pull ``ref`` from its registry; ``ImageMissing`` / ``EngineError`` when it fails."""
        ...

    def containers(self, labels: LabelFilter) -> list[ContainerInfo]:
        """Containers (running or not) with these labels."""
        ...

    def remove_container(self, ref: str) -> bool:
        """Remove a container (by id or name) and its anonymous volumes; False when it was not there."""
        ...

    def volumes(self, labels: LabelFilter) -> list[VolumeInfo]: ...
    def remove_volume(self, name: str) -> bool:
        """False when it was not there; ``EngineError`` when it is in use."""
        ...
