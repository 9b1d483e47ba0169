"""The disk watchdog: a build container whose writable layer grows past ``build_disk_limit_mb``
is stopped and its step fails saying so."""

from __future__ import annotations

import logging
import threading

from forager.build.errors import BuildError
from forager.runtime import Sandbox

DISK_POLL_S = 3.0
"""How often a build container's writable layer is measured against the limit."""
log = logging.getLogger("forager.builder")


class DiskWatch:
    """Stops ``box`` when its writable layer grows past ``limit_mb`` and turns the step's outcome
    into a BuildError saying so. The layer is measured every DISK_POLL_S seconds, so it can
    overshoot the limit by what the container writes in one interval plus the time the engine
    takes to measure it. The container's private pip cache overlay counts too (measured on this
    host's disk, where the engine keeps its volumes)."""

    def __init__(self, box: Sandbox, limit_mb: int) -> None:
        self.box = box
        self.limit_mb = limit_mb
        self.exceeded_mb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"disk-{box.name}")

    def size_mb(self) -> int:
        return self.box.disk_usage() // (1024 * 1024)

    def _loop(self) -> None:
        while not self.stop.wait(DISK_POLL_S):
            try:
                size = self.size_mb()
            except Exception as exc:  # noqa: BLE001 - measured again next interval
                log.warning("could not measure %s: %s", self.box.name, exc)
                continue
            if size > self.limit_mb:
                self.exceeded_mb = size
                self.box.kill()
                return

    def __enter__(self) -> DiskWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        if self.exceeded_mb:
            raise BuildError(f"disk limit: the build container wrote {self.exceeded_mb} MB, more than "
                             f"the {self.limit_mb} MB limit (FORAGER_BUILD_DISK_LIMIT_MB); it was stopped")
