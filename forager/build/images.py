"""Base images: one per Python, a virtualenv at /opt/venv with git configured, made from a
bootstrapped Debian suite (debootstrap + docker import) or an official python image."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from forager.build.toolchain import install_toolchain
from forager.config import Settings, get_settings
from forager.errors import EngineError, InvalidInput
from forager.runtime import Limits, Runtime, get_runtime

SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
PYTHON_OF_SUITE = {v: k for k, v in SUITES.items()}
BOOTSTRAP = Path(__file__).resolve().parents[2] / "images" / "bootstrap.sh"
VENV = "/opt/venv"
BASE_ENV = {"PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "VIRTUAL_ENV": VENV, "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "LANG": "C.UTF-8"}
Log = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def rootfs_tag(suite: str) -> str:
    return f"{get_settings().image_prefix}/rootfs:{suite}"


def base_tag(python: str) -> str:
    return f"{get_settings().image_prefix}/base:{python}"


def bootstrap(suite: str, force: bool = False, log: Log = _noop) -> str:
    """debootstrap a Debian suite and `docker import` it, then make the Forager base on top."""
    if suite not in PYTHON_OF_SUITE:
        raise InvalidInput(f"unknown suite {suite!r}; choose from {', '.join(PYTHON_OF_SUITE)}")
    tag = rootfs_tag(suite)
    if force or not get_runtime().image_exists(tag):
        log(f"bootstrapping {suite} (debootstrap + docker import) ...")
        proc = subprocess.run(["bash", str(BOOTSTRAP), suite, tag], capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            raise EngineError(f"bootstrap of {suite} failed: {proc.stderr[-2000:]}")
    return ensure_base(PYTHON_OF_SUITE[suite], log=log, rebuild=force)


def _official(rt: Runtime, python: str, settings: Settings, log: Log) -> str | None:
    """``python:X.Y-slim`` pulled from a registry, when the setting allows; None when it cannot
    be pulled and bootstrapping may stand in."""
    if settings.base_images not in ("official", "auto"):
        return None
    official = f"python:{python}-slim"
    try:
        log(f"pulling {official} ...")
        rt.pull(official)
        return official
    except Exception as exc:  # noqa: BLE001 - no registry: fall back to bootstrapping
        if settings.base_images == "official":
            raise EngineError(f"cannot pull {official}: {exc}") from exc
        return None


def _make_base(rt: Runtime, tag: str, python: str, source_image: str, interpreter: str,
               settings: Settings) -> None:
    with rt.start(source_image, limits=Limits.from_settings(network=True, settings=settings), build_mounts=True,
                  labels={"forager.role": "build-base"}) as box:
        res = box.exec(
            f"{interpreter} -m venv {VENV} && {VENV}/bin/pip install -q --upgrade pip setuptools wheel && "
            f"git config --system --add safe.directory '*' 2>/dev/null || git config --global --add "
            f"safe.directory '*'; git config --global user.email forager@localhost && "
            f"git config --global user.name forager",
            settings.install_timeout_s,
        )
        if not res.ok:
            raise EngineError(f"base image setup failed: {res.output[-2000:]}")
        box.exec("rm -rf /tmp/* /root/.cache/pip/* 2>/dev/null; true", 60)
        box.commit(tag, labels={"forager.kind": "base", "forager.python": python, "forager.from": source_image},
                   env=BASE_ENV)


def ensure_toolchain(base: str, log: Log = _noop) -> str:
    """The build-toolchain layer on ``base`` (gcc, g++, make, Python headers), made on first use
    and shared by every project with compiled extensions; others never carry it."""
    rt = get_runtime()
    digest = (rt.image_digest(base) or "x").split(":")[-1][:12]
    tag = f"{get_settings().image_prefix}/toolchain:{base.rsplit(':', 1)[-1]}-{digest}"
    if rt.image_exists(tag):
        return tag
    settings = get_settings()
    log(f"making the build toolchain layer {tag} ...")
    with rt.start(base, limits=Limits.from_settings(network=True, settings=settings), build_mounts=True,
                  labels={"forager.role": "build-base"}) as box:
        res = install_toolchain(box, settings.install_timeout_s)
        if not res.ok:
            raise EngineError(f"build toolchain install failed: {res.output[-2000:]}")
        box.commit(tag, labels={"forager.kind": "toolchain", "forager.base": base})
    return tag


def ensure_base(python: str, log: Log = _noop, rebuild: bool = False) -> str:
    """The base image for a Python version, made on first use: from the suite's bootstrapped
    root filesystem when there is one, else an official image, else bootstrapped now."""
    rt = get_runtime()
    tag = base_tag(python)
    if rt.image_exists(tag) and not rebuild:
        return tag
    settings = get_settings()
    suite = SUITES.get(python)
    source_image, interpreter = (rootfs_tag(suite) if suite else None), "python3"
    if source_image is None or not rt.image_exists(source_image):
        source_image, interpreter = _official(rt, python, settings, log), "python"
        if source_image is None:
            if suite is None:
                raise EngineError(f"no base for Python {python}: bootstrap supports {', '.join(SUITES)}")
            return bootstrap(suite, log=log)
    log(f"making base {tag} from {source_image} ...")
    _make_base(rt, tag, python, source_image, interpreter, settings)
    return tag
