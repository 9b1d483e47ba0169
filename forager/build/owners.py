"""Who owns a build: every build row and build container records its owner (``host:pid``), so
what a dead process left behind (a CLI build killed with ``kill -9``) can be found and ended."""

from __future__ import annotations

import contextlib
import logging

from forager.errors import EngineError
from forager.owner import OWNER_LABEL, is_dead, this_process
from forager.runtime import Runtime, get_runtime
from forager.runtime.pipcache import OVERLAY_LABEL, discard_pip_overlay
from forager.store.build_records import fail_if_still_owned, running_builds

BUILD_LABEL = "forager.build"
INTERRUPTED = "interrupted: owner process died"
log = logging.getLogger("forager.builder")


owner = this_process
"""This process, as recorded on the build rows and containers it owns."""


def labels(build_id: str, role: str) -> dict[str, str]:
    """Labels of a build container: its role, its build and its owner."""
    return {"forager.role": role, BUILD_LABEL: build_id, OWNER_LABEL: owner()}


def _fail_dead_builds() -> list[str]:
    """Mark failed the running builds of dead owners; each row changes only by a conditional
    UPDATE (a build that started again under a new owner is left alone)."""
    failed: list[str] = []
    for build_id, build_owner in running_builds():
        if is_dead(build_owner) and fail_if_still_owned(build_id, build_owner, INTERRUPTED):
            failed.append(build_id)
    return failed


def _remove_dead_containers(rt: Runtime) -> list[str]:
    """Remove the build containers of dead owners, and their pip cache layers; their names."""
    removed: list[str] = []
    for c in rt.containers({BUILD_LABEL: None}):
        if is_dead(c.labels.get(OWNER_LABEL)):
            with contextlib.suppress(EngineError):
                if rt.remove_container(c.id):
                    removed.append(c.name)
    for vol in rt.volumes({OVERLAY_LABEL: None}):
        if is_dead(vol.labels.get(OWNER_LABEL)):
            discard_pip_overlay(rt, vol.labels[OVERLAY_LABEL])
    return removed


def reap_dead_owners() -> dict[str, list[str]]:
    """Fail the running builds whose owning process (on this host) died and remove their
    containers and pip cache layers. Safe to call from any process at any time: a live owner's
    work is never touched."""
    failed = _fail_dead_builds()
    try:
        rt = get_runtime()
    except EngineError as exc:
        log.warning("no engine to look for dead builds' containers: %s", exc)
        return {"builds": failed, "containers": []}
    return {"builds": failed, "containers": _remove_dead_containers(rt)}
