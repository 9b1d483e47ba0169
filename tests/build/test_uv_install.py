"""Installs with uv in build containers: uv used, pip where uv fails, pip's pins obeyed, nothing
of uv in a committed image (Docker-backed, offline: local wheels and projects only)."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from forager.build import images
from forager.build.pip import pip_install
from forager.build.uv import FALLBACK_NOTE, INSTALL, UV_DIR, install_command, provide_uv, seed_cache_volume
from forager.config import get_settings, reset_settings
from forager.runtime import Limits, Sandbox
from forager.runtime.pipcache import discard_pip_overlay

UV_SAYS = "Using Python"
"""The first line ``uv pip install`` writes (pip never does)."""


def _wheel(name: str, version: str) -> bytes:
    """A minimal pure-Python wheel of ``name`` whose module knows its version."""
    buf = io.BytesIO()
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return buf.getvalue()


def _project(name: str) -> dict[str, bytes]:
    return {f"/tmp/{name}/pyproject.toml": (
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n').encode(),
        f"/tmp/{name}/{name}/__init__.py": b"OK = True\n"}


@pytest.fixture
def box(runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:  # type: ignore[no-untyped-def]
    """A build container with the network off and a pip cache volume of its own."""
    volume = f"forager-test-uv-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FORAGER_PIP_CACHE_VOLUME", volume)
    reset_settings()
    base = images.ensure_base(get_settings().default_python)
    try:
        with runtime.start(base, limits=Limits.from_settings(network=False), build_mounts=True,
                           labels={"forager.role": "build-deps"}) as sandbox:
            yield sandbox
    finally:
        runtime.remove_volume(volume)


def test_installs_go_through_uv_and_leave_nothing_in_the_image(box: Sandbox, runtime) -> None:  # type: ignore[no-untyped-def]
    assert provide_uv(box).startswith("uv")
    box.put_files(_project("tinypkg"))
    res = box.exec(pip_install("--no-build-isolation -e /tmp/tinypkg"), 300)
    assert res.ok, res.output
    assert UV_SAYS in res.output and FALLBACK_NOTE not in res.output
    assert box.exec("python -c 'import tinypkg; assert tinypkg.OK'", 60).ok
    # uv and its script live in the cache mount: a committed image holds neither
    tag = f"forager-test/uv-commit:{uuid.uuid4().hex[:8]}"
    box.commit(tag)
    try:
        with runtime.start(tag, limits=Limits.from_settings(network=False)) as fresh:
            assert fresh.exec(f"test -e {UV_DIR}", 30).exit_code == 1
            assert fresh.exec("python -c 'import tinypkg'", 60).ok
    finally:
        runtime.remove_image(tag)


def test_pip_takes_over_when_uv_fails(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "uv"
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "uv 0.0.0"; exit 0; }\n'
                    'echo "fake uv: cannot install" >&2; exit 2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("FORAGER_UV_BINARY", str(fake))
    reset_settings()
    assert provide_uv(box).startswith("uv")
    box.put_files(_project("tinypkg"))
    res = box.exec(pip_install("--no-build-isolation /tmp/tinypkg"), 300)
    assert res.ok, res.output
    assert "fake uv: cannot install" in res.output and FALLBACK_NOTE in res.output
    assert box.exec("python -c 'import tinypkg; assert tinypkg.OK'", 60).ok


def test_uv_obeys_the_recipes_pip_pins(box: Sandbox) -> None:
    """``PIP_CONSTRAINT`` (lock files, the project's own pins) binds uv as it binds pip."""
    assert provide_uv(box).startswith("uv")
    box.put_files({"/tmp/wheels/dep-1.0-py3-none-any.whl": _wheel("dep", "1.0"),
                   "/tmp/wheels/dep-2.0-py3-none-any.whl": _wheel("dep", "2.0"),
                   "/tmp/pins.txt": b"dep==1.0\n"})
    res = box.exec(pip_install("--no-index --find-links /tmp/wheels dep"), 300, env={"PIP_CONSTRAINT": "/tmp/pins.txt"})
    assert res.ok and UV_SAYS in res.output, res.output
    assert box.exec("python -c 'import dep; print(dep.VERSION)'", 60).output.strip() == "1.0"


def test_the_pip_setting_installs_with_pip_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert INSTALL in install_command("six") and "python -m pip install" in install_command("six")
    monkeypatch.setenv("FORAGER_INSTALLER", "pip")
    reset_settings()
    assert install_command("six") == "python -m pip install --no-input --progress-bar off six"
    assert INSTALL not in pip_install("-r deps.txt")


def test_the_shared_cache_volume_is_seeded_from_the_host(runtime, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """On an engine that keeps its volumes on this machine, uv is written into the shared cache
    once: a container running repository code (private overlay) finds it without a copy."""
    volume = f"forager-test-uv-{uuid.uuid4().hex[:8]}"
    name = f"{volume}-repo"
    monkeypatch.setenv("FORAGER_PIP_CACHE_VOLUME", volume)
    reset_settings()
    try:
        assert seed_cache_volume()
        # what the dependency layer's container (it writes the shared cache) may have changed is
        # written again by the next build's check
        with runtime.start(images.ensure_base(get_settings().default_python), build_mounts=True,
                           limits=Limits.from_settings(network=False), labels={"forager.role": "build-deps"}) as deps:
            assert deps.exec(f"echo poisoned > {UV_DIR}/uv", 30).ok
        assert seed_cache_volume()
        with runtime.start(images.ensure_base(get_settings().default_python), name=name, build_mounts=True,
                           limits=Limits.from_settings(network=False), labels={"forager.role": "build-repo"}) as box:
            assert box.exec(f"{UV_DIR}/uv --version", 30).output.startswith("uv ")
            before = box.exec(f"stat -c %i {UV_DIR}/uv", 30).output
            assert provide_uv(box).startswith("uv")
            assert box.exec(f"stat -c %i {UV_DIR}/uv", 30).output == before  # not copied again
            box.put_files(_project("tinypkg"))
            res = box.exec(pip_install("--no-build-isolation /tmp/tinypkg"), 300)
            assert res.ok and UV_SAYS in res.output, res.output
    finally:
        discard_pip_overlay(runtime, name)
        runtime.remove_volume(volume)
