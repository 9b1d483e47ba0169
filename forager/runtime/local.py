"""A runtime without an engine: "containers" are temporary directories on the host.

**THIS IS NOT A SANDBOX.** Commands run as the calling user, directly on the host, with the host's
network, programs and file system; ``Limits`` are ignored, ``user`` is ignored, nothing is
isolated. It exists so that the persistent shell, the agent's tools and task logic can be tested
without a Docker engine. Never run untrusted code (a model's commands, a repository's tests) with it.

The mapping is the simplest honest one: each sandbox has a root directory; a sandbox path ``/x``
means ``<root>/x`` (``Sandbox.path``), which is where working directories, ``HOME``, ``TMPDIR``
and files put or read go. An image is a directory registered by name (``LocalRuntime(images=...)``)
and copied in as the sandbox's ``/repo``; a commit copies ``/repo`` back out as a new image.
Commands are not rewritten: a command that names ``/repo`` itself reaches the host's ``/repo``.
Every process a sandbox starts carries ``SANDBOX_ENV=<id>`` and is killed when it is removed.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from forager.errors import EngineError, ImageMissing
from forager.runtime import tario
from forager.runtime.base import (
    SANDBOX_ENV,
    ContainerInfo,
    ExecResult,
    LabelFilter,
    Limits,
    VolumeInfo,
    exec_result,
)

REPO = "/repo"


@dataclass
class LocalImage:
    path: Path
    """What the sandbox's ``/repo`` starts as."""
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    id: str = field(default_factory=lambda: f"local:{uuid.uuid4().hex}")


def _matches(labels: Mapping[str, str], wanted: LabelFilter) -> bool:
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items())


def kill_marked(marker: str) -> int:
    """SIGKILL every process of this user whose environment holds ``marker`` (``KEY=value``)."""
    killed = 0
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid() or needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return killed


@dataclass
class LocalSandbox:
    """A directory standing for a container (see the module docstring: not a sandbox)."""

    root: Path
    name: str
    image: LocalImage
    runtime: LocalRuntime
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    pid_namespace: bool = False

    def path(self, path: str) -> str:
        if not path.startswith("/"):
            return path
        return str(self.root) + posixpath.normpath("/" + path.lstrip("/")).rstrip("/")

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        merged = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                  **self.image.env, **self.env, **(env or {})}
        merged["HOME"] = self.path(merged.get("HOME", "/root"))
        merged["TMPDIR"] = self.path("/tmp")
        merged[SANDBOX_ENV] = self.id
        Path(merged["HOME"]).mkdir(parents=True, exist_ok=True)
        return merged

    def _cwd(self, workdir: str | None) -> str:
        cwd = self.path(workdir or self.image.workdir)
        Path(cwd).mkdir(parents=True, exist_ok=True)
        return cwd

    def exec(self, command: str, timeout: float, workdir: str | None = None,
             env: Mapping[str, str] | None = None, user: str | None = None) -> ExecResult:
        argv = ["timeout", "-k", "5", str(int(max(1, timeout))), "bash", "-c", command]
        start = time.monotonic()
        with subprocess.Popen(argv, cwd=self._cwd(workdir), env=self._env(env), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True) as proc:
            try:
                out, _ = proc.communicate(timeout=timeout + 30)
            except subprocess.TimeoutExpired:  # the timeout did not end it: the backstop
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return ExecResult(137, "[forager: command killed after timeout]", time.monotonic() - start,
                                  timed_out=True)
        return exec_result(proc.returncode, out.decode("utf-8", errors="replace"), time.monotonic() - start,
                           timeout)

    def interactive(self, argv: Sequence[str], *, user: str = "root", env: Mapping[str, str] | None = None,
                    workdir: str = "/") -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(argv), cwd=self._cwd(workdir), env=self._env(env), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
                                start_new_session=True)

    def put_tar(self, data: bytes | Iterable[bytes], dest: str = "/", timeout: float = 600) -> None:
        target = self.path(dest)
        Path(target).mkdir(parents=True, exist_ok=True)
        tario.feed(["tar", "-x", "--no-same-owner", "-C", target], data, dest, timeout)

    def get_tar(self, path: str, args: Sequence[str] = (), max_bytes: int | None = None,
                timeout: float = 600) -> bytes:
        return tario.drain(["tar", "-c", "-C", self.path(path), *args, "."], path, max_bytes, timeout)

    def put_files(self, files: Mapping[str, bytes], dest: str = "/") -> None:
        self.put_tar(tario.tar_bytes(files), dest)

    def put_dir(self, src: Path, dest: str) -> None:
        self.put_tar(tario.tar_dir(src), dest)

    def get_file(self, path: str) -> bytes | None:
        target = Path(self.path(path))
        return target.read_bytes() if target.is_file() else None

    def disk_usage(self) -> int:
        return sum(f.lstat().st_size for f in self.root.rglob("*") if f.is_file() and not f.is_symlink())

    def commit(self, tag: str, labels: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None, workdir: str | None = None) -> str:
        return self.runtime.add_image(tag, Path(self.path(REPO)), labels=labels, env=env,
                                      workdir=workdir or self.image.workdir, copy=True)

    def kill(self) -> None:
        kill_marked(f"{SANDBOX_ENV}={self.id}")

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
        self.runtime.forget(self)

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class LocalRuntime:
    """Sandboxes as host directories, images as registered directories. NOT A SANDBOX: see the module."""

    def __init__(self, images: Mapping[str, Path] | None = None, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="forager-local-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.images: dict[str, LocalImage] = {}
        self.sandboxes: dict[str, LocalSandbox] = {}
        for tag, path in (images or {}).items():
            self.add_image(tag, Path(path))

    def add_image(self, tag: str, path: Path, *, labels: Mapping[str, str] | None = None,
                  env: Mapping[str, str] | None = None, workdir: str = "/", copy: bool = False) -> str:
        """Register ``path`` as image ``tag`` (``copy``: a snapshot of it); returns the image id."""
        if copy:
            snapshot = self.root / "images" / uuid.uuid4().hex
            shutil.copytree(path, snapshot, symlinks=True)
            path = snapshot
        image = LocalImage(path, dict(labels or {}), dict(env or {}), workdir)
        self.images[tag] = image
        return image.id

    def _image(self, tag: str) -> LocalImage | None:
        return self.images.get(tag) or next((i for i in self.images.values() if i.id == tag), None)

    def start(self, image: str, *, name: str | None = None, limits: Limits | None = None,
              env: Mapping[str, str] | None = None, build_mounts: bool = False,
              labels: Mapping[str, str] | None = None, workspace: str | None = None,
              workspace_owner: str | None = None) -> LocalSandbox:
        """A sandbox directory with the image's directory as ``/repo`` (limits and mounts ignored)."""
        found = self._image(image)
        if found is None:
            raise ImageMissing(f"image not found: {image}")
        name = name or f"forager-{uuid.uuid4().hex[:16]}"
        self.remove_container(name)
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        shutil.copytree(found.path, root / "repo", symlinks=True)
        for place in ("tmp", "root"):
            (root / place).mkdir()
        box = LocalSandbox(root, name, found, self, {"forager": "1", **(labels or {})}, dict(env or {}))
        self.sandboxes[box.id] = box
        return box

    def forget(self, box: LocalSandbox) -> None:
        self.sandboxes.pop(box.id, None)

    def image_exists(self, tag: str) -> bool:
        return self._image(tag) is not None

    def image_digest(self, tag: str) -> str | None:
        found = self._image(tag)
        return found.id if found else None

    def image_size(self, tag: str) -> int:
        found = self._image(tag)
        return sum(f.lstat().st_size for f in found.path.rglob("*") if f.is_file()) if found else 0

    def image_labels(self, tag: str) -> dict[str, str]:
        found = self._image(tag)
        return dict(found.labels) if found else {}

    def remove_image(self, tag: str) -> None:
        self.images.pop(tag, None)

    def tag(self, image: str, tag: str) -> None:
        found = self._image(image)
        if found is None:
            raise ImageMissing(f"image not found: {image}")
        self.images[tag] = found

    def push(self, ref: str) -> None:
        raise EngineError(f"push of {ref} failed: the local runtime has no registry")

    def pull(self, ref: str) -> None:
        raise ImageMissing(f"cannot pull {ref}: the local runtime has no registry")

    def containers(self, labels: LabelFilter) -> list[ContainerInfo]:
        return [ContainerInfo(b.id, b.name, dict(b.labels)) for b in self.sandboxes.values()
                if _matches(b.labels, labels)]

    def remove_container(self, ref: str) -> bool:
        box = next((b for b in self.sandboxes.values() if ref in (b.id, b.name)), None)
        if box is None:
            return False
        box.remove()
        return True

    def volumes(self, labels: LabelFilter) -> list[VolumeInfo]:
        return []

    def remove_volume(self, name: str) -> bool:
        return False
