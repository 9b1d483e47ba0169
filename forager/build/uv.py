"""uv in build containers: ``uv pip install`` where the builder used pip, with pip where uv fails.

The uv executable of Forager's own environment (setting ``uv_binary``) is copied into the build
container's pip cache mount (``UV_DIR``), never into a committed image, beside a small script
(``INSTALL``) that installs with uv into the Python on PATH and, when uv is absent or fails,
runs the same arguments through pip. uv's cache sits in the same mount (``UV_CACHE``), so, as for
pip, the dependency layer writes the shared cache and a container running repository code writes
only its private copy-on-write overlay. The script reads the pip settings a recipe sets (pins,
the upload-date bound, indexes) as uv's, and uv trusts the CA bundle build containers are given
(``SSL_CERT_FILE``, the system bundle merged with the extra one), else the system's store.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import sys
import tarfile
import time
import uuid
from pathlib import Path

from forager.config import Settings, get_settings
from forager.runtime import Sandbox, get_runtime
from forager.runtime.pipcache import PIP_CACHE

UV_DIR = f"{PIP_CACHE}/.forager-uv"
UV = f"{UV_DIR}/uv"
INSTALL = f"{UV_DIR}/install"
STAMP = f"{UV_DIR}/stamp"
UV_CACHE = f"{PIP_CACHE}/uv"
PIP = "python -m pip install --no-input --progress-bar off"
FALLBACK_NOTE = "forager: uv pip install failed; pip instead"
WITH_UV = "uv (pip where it fails)"
"""What a container installs with when it has uv (``provide_uv``'s answer, for the log)."""
_seeded: set[str] = set()
"""Cache volumes whose copy of uv this process has checked (``seed_cache_volume``) since its last
check failed: their containers need no check of their own (the install command still falls back
to pip if the copy is gone)."""

SCRIPT = f"""#!/bin/sh
# Forager: `uv pip install ARGS` into the Python on PATH; pip with the same ARGS when uv fails.
if [ -x {UV} ] && [ -z "${{FORAGER_NO_UV:-}}" ]; then
  export UV_CACHE_DIR={UV_CACHE} UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_NO_PROGRESS=1 \\
    UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
  [ -n "${{SSL_CERT_FILE:-}}" ] || export UV_NATIVE_TLS=1
  [ -z "${{PIP_CONSTRAINT:-}}" ] || export UV_CONSTRAINT="$PIP_CONSTRAINT"
  [ -z "${{PIP_UPLOADED_PRIOR_TO:-}}" ] || export UV_EXCLUDE_NEWER="$PIP_UPLOADED_PRIOR_TO"
  [ -z "${{PIP_INDEX_URL:-}}" ] || export UV_DEFAULT_INDEX="$PIP_INDEX_URL"
  if [ -n "${{PIP_EXTRA_INDEX_URL:-}}" ]; then
    export UV_INDEX="$PIP_EXTRA_INDEX_URL" UV_INDEX_STRATEGY=unsafe-best-match
  fi
  {UV} pip install --python "$(command -v python)" "$@" && exit 0
  echo "{FALLBACK_NOTE} (exit $?)" >&2
fi
exec {PIP} "$@"
"""


def install_command(args: str, settings: Settings | None = None) -> str:
    """The shell command that installs ``args`` (already shell-quoted): through ``INSTALL`` when
    the container has it (uv, pip as fallback), else pip."""
    pip = f"{PIP} {args}"
    if (settings or get_settings()).installer != "uv":
        return pip
    return f"if [ -x {INSTALL} ]; then {INSTALL} {args}; else {pip}; fi"


def host_uv(settings: Settings | None = None) -> Path | None:
    """The uv executable to copy into containers: the setting, else the one beside Forager's
    Python (the ``uv`` package), else on PATH; None when there is none."""
    settings = settings or get_settings()
    if settings.uv_binary:
        return settings.uv_binary if settings.uv_binary.is_file() else None
    try:
        from uv import find_uv_bin

        return Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    return Path(found) if found else None


@functools.lru_cache(maxsize=4)
def _bundle(binary: Path, mtime: float) -> tuple[str, bytes]:
    """(stamp, tar of the executable and the script) for ``binary`` (``mtime`` keys the cache)."""
    data = binary.read_bytes()
    stamp = hashlib.sha256(data + SCRIPT.encode()).hexdigest()[:16]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content, mode in (("uv", data, 0o755), ("install", SCRIPT.encode(), 0o755),
                                    ("stamp", stamp.encode(), 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return stamp, buf.getvalue()


def provide_uv(box: Sandbox, settings: Settings | None = None) -> str:
    """Put uv and the install script in ``box`` (unless the cache mount has this very copy);
    what the container installs with, for the log."""
    settings = settings or get_settings()
    if settings.installer != "uv":
        return "pip (setting installer=pip)"
    binary = host_uv(settings)
    if binary is None:
        return "pip (no uv executable found)"
    if settings.pip_cache_volume in _seeded:  # this build checked the volume's copy before starting
        return WITH_UV
    stamp, bundle = _bundle(binary, binary.stat().st_mtime)
    have = box.exec(f"cat {STAMP} 2>/dev/null", 30)
    if have.ok and have.output.strip() == stamp:
        return WITH_UV
    # unpacked aside and renamed into place: another build sharing the cache never runs half a file
    new = f"{UV_DIR}/.new-{uuid.uuid4().hex[:8]}"
    box.exec(f"mkdir -p {new}", 30)
    box.put_tar(bundle, new)
    moved = box.exec(f"mv -f {new}/uv {UV} && mv -f {new}/install {INSTALL} && mv -f {new}/stamp {STAMP}; "
                     f"rm -rf {new}; {UV} --version", 60)
    return WITH_UV if moved.ok else f"pip (uv did not start: {moved.output.strip()[-200:]})"


@functools.lru_cache(maxsize=4)
def _digest(binary: Path, mtime: float) -> str:
    return hashlib.sha256(binary.read_bytes()).hexdigest()


def _intact(target: Path, binary: Path, stamp: str) -> bool:
    """Whether the volume's copy is this very uv and script, byte for byte (the dependency layer's
    container writes the shared cache: what it may have changed is written again)."""
    try:
        return ((target / "stamp").read_text().strip() == stamp and (target / "install").read_text() == SCRIPT
                and hashlib.sha256((target / "uv").read_bytes()).hexdigest()
                == _digest(binary, binary.stat().st_mtime))
    except OSError:
        return False


def seed_cache_volume(settings: Settings | None = None) -> bool:
    """uv and the script written into the shared pip cache volume from this host, when the engine
    keeps its volumes on this machine and they are writable here: every build container then finds
    them (the repository container through its overlay's lower layer) with no copy. Checked byte
    for byte at every build and written again when they differ. False when that cannot be done (a
    remote or rootless engine): ``provide_uv`` copies them in then."""
    settings = settings or get_settings()
    _seeded.discard(settings.pip_cache_volume)
    binary = host_uv(settings) if settings.installer == "uv" else None
    client = getattr(get_runtime(), "client", None)
    if binary is None or client is None:
        return False
    try:
        import docker.errors

        try:
            volume = client.volumes.get(settings.pip_cache_volume)
        except docker.errors.NotFound:
            volume = client.volumes.create(settings.pip_cache_volume)
        root = Path(volume.attrs["Mountpoint"])
        if not root.is_dir() or not os.access(root, os.W_OK):
            return False
        stamp, bundle = _bundle(binary, binary.stat().st_mtime)
        target = root / Path(UV_DIR).relative_to(PIP_CACHE)
        if _intact(target, binary, stamp):
            _seeded.add(settings.pip_cache_volume)
            return True
        new = target / f".new-{uuid.uuid4().hex[:8]}"
        new.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
            tar.extractall(new, filter="data")
        for name in ("uv", "install", "stamp"):  # renamed into place: a reader never sees half a file
            os.replace(new / name, target / name)
        new.rmdir()
        _seeded.add(settings.pip_cache_volume)
        return True
    except Exception:  # noqa: BLE001 - any failure: the containers get their copy instead
        return False
