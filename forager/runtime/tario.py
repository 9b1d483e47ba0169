"""Tar streams for moving files into and out of sandboxes: building them, and piping them through a
``tar`` process (in a container or on the host)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from forager.errors import EngineError
from forager.paths import SKIP_DIRS


def tar_bytes(files: Mapping[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` (name → content), names made relative."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_dir(src: Path) -> bytes:
    """A tar of ``src``'s contents owned by root, without tool folders (``SKIP_DIRS``) and ``.pyc``."""
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


def first_file(archive: bytes) -> bytes | None:
    """The content of the first regular file in a tar archive."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                f = tar.extractfile(member)
                return f.read() if f else None
    return None


def feed(cmd: Sequence[str], data: bytes | Iterable[bytes], dest: str, timeout: float) -> None:
    """Run ``cmd`` (a ``tar -x``) with ``data`` on its stdin; ``EngineError`` when it fails."""
    with subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
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


def drain(cmd: Sequence[str], path: str, max_bytes: int | None, timeout: float) -> bytes:
    """Run ``cmd`` (a ``tar -c``) and return its stdout, at most ``max_bytes`` of it (else
    ``EngineError``, as when it fails)."""
    with subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        out = proc.stdout.read(max_bytes + 1) if max_bytes else proc.stdout.read()
        if max_bytes and len(out) > max_bytes:
            proc.kill()
            raise EngineError(f"{path} holds more than {max_bytes} bytes")
        err = proc.stderr.read()
        if proc.wait(timeout=timeout) != 0:
            raise EngineError(f"could not read {path}: {err.decode(errors='replace')[:500]}")
    return out
