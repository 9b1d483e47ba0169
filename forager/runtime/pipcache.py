"""The pip cache of build containers: the shared volume for the layers that install index packages
only, a private copy-on-write overlay for every container that runs repository code."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING

import docker.errors
from docker.types import DriverConfig, Mount

from forager.errors import EngineError
from forager.owner import OWNER_LABEL, this_process

if TYPE_CHECKING:
    from forager.runtime.base import Runtime
    from forager.runtime.docker import DockerRuntime

PIP_CACHE = "/root/.cache/pip"
SHARED_CACHE_ROLES = {"build-base", "build-deps"}
"""Container roles (label ``forager.role``) that install only index packages: they write the shared
pip cache. Every other build container runs repository code and gets a copy-on-write view."""
OVERLAY_LABEL = "forager.pip-overlay"


def pip_cache_mount(rt: DockerRuntime, volume: str, name: str | None, shared: bool) -> Mount:
    """The pip cache of a build container. ``shared``: the shared ``volume`` itself, read-write.
    Otherwise an overlay whose lower layer is the shared volume and whose upper and work layers
    are two volumes of this container only (``discard_pip_overlay`` removes them): the build reads
    every cached wheel, and whatever it writes or deletes never reaches the shared volume."""
    if shared:
        return Mount(PIP_CACHE, volume, type="volume")
    client = rt.client
    try:
        lower = client.volumes.get(volume)
    except docker.errors.NotFound:
        lower = client.volumes.create(volume)
    name = name or f"forager-{uuid.uuid4().hex[:12]}"
    discard_pip_overlay(rt, name)  # left by an earlier attempt of the same build
    labels = {OVERLAY_LABEL: name, OWNER_LABEL: this_process()}
    upper = client.volumes.create(f"{name}-pip-upper", labels=labels)
    work = client.volumes.create(f"{name}-pip-work", labels=labels)
    options = {"type": "overlay", "device": "overlay",
               "o": f"lowerdir={lower.attrs['Mountpoint']},upperdir={upper.attrs['Mountpoint']},"
                    f"workdir={work.attrs['Mountpoint']}"}
    # no source: an anonymous volume, removed with the container (remove(v=True))
    return Mount(PIP_CACHE, None, type="volume", driver_config=DriverConfig("local", options))


def discard_pip_overlay(rt: Runtime, name: str) -> list[str]:
    """Remove the overlay volumes of container ``name`` once it is gone; returns their names. A
    volume still mounted by a container is left alone."""
    removed = []
    for vol in rt.volumes({OVERLAY_LABEL: name}):
        with contextlib.suppress(EngineError):
            if rt.remove_volume(vol.name):
                removed.append(vol.name)
    return removed
