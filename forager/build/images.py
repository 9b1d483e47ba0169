"""Base images (bootstrapped from Debian suites or official python images) and the image catalogue."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from forager.config import get_settings
from forager.errors import EngineError
from forager.runtime import Limits, get_runtime
from forager.store import db

SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
PYTHON_OF_SUITE = {v: k for k, v in SUITES.items()}
BOOTSTRAP = Path(__file__).resolve().parents[2] / "images" / "bootstrap.sh"
VENV = "/opt/venv"
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
        raise ValueError(f"unknown suite {suite!r}; choose from {', '.join(PYTHON_OF_SUITE)}")
    rt = get_runtime()
    tag = rootfs_tag(suite)
    if force or not rt.image_exists(tag):
        log(f"bootstrapping {suite} (debootstrap + docker import) ...")
        proc = subprocess.run(["bash", str(BOOTSTRAP), suite, tag], capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            raise EngineError(f"bootstrap of {suite} failed: {proc.stderr[-2000:]}")
    return ensure_base(PYTHON_OF_SUITE[suite], log=log, rebuild=force)


def ensure_base(python: str, log: Log = _noop, rebuild: bool = False) -> str:
    """The base image for a Python version: a virtualenv at /opt/venv, git configured."""
    rt = get_runtime()
    tag = base_tag(python)
    if rt.image_exists(tag) and not rebuild:
        return tag
    settings = get_settings()
    suite = SUITES.get(python)
    source_image = rootfs_tag(suite) if suite else None
    interpreter = "python3"
    if source_image is None or not rt.image_exists(source_image):
        if settings.base_images in ("official", "auto"):
            official = f"python:{python}-slim"
            try:
                log(f"pulling {official} ...")
                rt.pull(official)
                source_image, interpreter = official, "python"
            except Exception as exc:  # noqa: BLE001 - no registry: fall back to bootstrapping
                if settings.base_images == "official":
                    raise EngineError(f"cannot pull {official}: {exc}") from exc
                source_image = None
        if source_image is None:
            if suite is None:
                raise EngineError(f"no base for Python {python}: bootstrap supports {', '.join(SUITES)}")
            return bootstrap(suite, log=log)
    log(f"making base {tag} from {source_image} ...")
    with rt.start(source_image, limits=Limits.from_settings(network=True), build_mounts=True,
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
        box.commit(tag, labels={"forager.kind": "base", "forager.python": python,
                                "forager.from": source_image},
                   env={"PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "VIRTUAL_ENV": VENV, "PYTHONDONTWRITEBYTECODE": "1",
                        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "LANG": "C.UTF-8"})
    return tag


def list_images() -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.scalars(select(db.Image).order_by(db.Image.created_at.desc())).all()
        out = []
        for img in rows:
            counts = dict(s.execute(
                select(db.TestResult.outcome, func.count()).where(db.TestResult.build_id == img.build_id)
                .group_by(db.TestResult.outcome)).all())
            out.append({"id": img.id, "source": img.source, "commit": img.commit, "python": img.python,
                        "status": img.status, "digest": img.digest, "size_bytes": img.size_bytes,
                        "passed": counts.get("passed", 0), "total": sum(counts.values()),
                        "created_at": img.created_at.isoformat()})
        return out


def show_image(image_id: str) -> dict[str, Any] | None:
    with db.session() as s:
        img = s.get(db.Image, image_id)
        if img is None:
            return None
        build = s.get(db.Build, img.build_id)
        tests = s.scalars(select(db.TestResult).where(db.TestResult.build_id == img.build_id)).all()
        return {
            "id": img.id, "digest": img.digest, "source": img.source, "commit": img.commit,
            "python": img.python, "status": img.status, "size_bytes": img.size_bytes,
            "test_command": img.test_command, "recipe": img.recipe, "build_id": img.build_id,
            "tests": build.tests if build else {},
            "results": [{"id": t.test_id, "outcome": t.outcome, "flaky": t.flaky} for t in tests],
        }


def passing_tests(image_id: str) -> list[str]:
    """The PASS_TO_PASS baseline of an image: tests that passed in both validation runs."""
    with db.session() as s:
        img = s.get(db.Image, image_id)
        if img is None:
            raise KeyError(f"no image {image_id!r}")
        return list(s.scalars(select(db.TestResult.test_id).where(
            db.TestResult.build_id == img.build_id, db.TestResult.outcome == "passed",
            db.TestResult.flaky.is_(False))).all())
