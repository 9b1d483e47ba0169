"""The sweep every API process runs (at start, then every ``FORAGER_SESSION_REAP_INTERVAL_S``):
sessions idle past ``FORAGER_SESSION_IDLE_TIMEOUT_S`` end ``expired``; sessions whose container is
gone or stopped end ``failed``; containers of this farm's sessions that are no longer active are
removed; this process's cached shells of ended sessions are closed. Safe in several processes at
once: each end is a compare-and-set, and removing a removed container is a no-op."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from forager.clock import utcnow
from forager.config import Settings, get_settings
from forager.enums import SessionState
from forager.errors import EngineError
from forager.runtime import get_runtime
from forager.sessions.attach import FARM_LABEL, SESSION_LABEL, SHELLS
from forager.sessions.manager import close, container_gone
from forager.store import db
from forager.store import sessions as stored

log = logging.getLogger(__name__)
RECHECK_S = 2.0
"""How long the sweep waits before it looks at a container it found gone again."""
STARTING_GRACE_S = 600.0
"""A session still without a container this long after it opened is taken as failed to start."""


def sweep(settings: Settings | None = None) -> dict[str, int]:
    """One sweep; counts of what it ended or removed."""
    settings = settings or get_settings()
    now = utcnow()
    idle_before = now - timedelta(seconds=settings.session_idle_timeout_s)
    counts = {"expired": 0, "failed": 0, "orphans": 0, "shells": 0}
    for row in stored.active():
        if row.last_active_at < idle_before:
            reason = f"idle for more than {settings.session_idle_timeout_s:g} s"
            counts["expired"] += close(row, SessionState.EXPIRED, reason, idle_before=idle_before)
        elif not row.container:
            if (now - row.created_at).total_seconds() > STARTING_GRACE_S:
                counts["failed"] += close(row, SessionState.FAILED, "the sandbox never started")
        elif why := container_gone(row, RECHECK_S):
            log.info("session %s: %s", row.id, why)
            counts["failed"] += close(row, SessionState.FAILED, f"the session's container is gone: {why}")
    counts["orphans"] = _remove_orphans()
    states = stored.ids_with_state(SHELLS.ids())
    for session_id in SHELLS.ids():
        if states.get(session_id) != SessionState.ACTIVE:
            SHELLS.drop(session_id)
            counts["shells"] += 1
    return counts


def _remove_orphans() -> int:
    """Remove this farm's session containers whose session has ended. A container whose session
    this registry does not know is left alone: a copy of a FORAGER_HOME has the same farm id, and
    its sessions are not this registry's to end."""
    runtime = get_runtime()
    found = runtime.containers({SESSION_LABEL: None, FARM_LABEL: db.farm_id()})
    states = stored.ids_with_state([c.labels.get(SESSION_LABEL, "") for c in found])
    removed = 0
    for c in found:
        state = states.get(c.labels.get(SESSION_LABEL, ""))
        if state is None or state == SessionState.ACTIVE:
            continue
        log.info("removing the container %s of session %s (%s)", c.name, c.labels.get(SESSION_LABEL), state)
        try:
            removed += runtime.remove_container(c.id)
        except EngineError as exc:
            log.warning("could not remove the orphan session container %s: %s", c.name, exc)
    return removed


def start_background(settings: Settings | None = None) -> threading.Event:
    """Sweep now and then every interval in a daemon thread; set the event returned to stop it."""
    settings = settings or get_settings()
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                sweep(settings)
            except Exception as exc:  # noqa: BLE001 - a sweep that failed is tried again next interval
                log.warning("session sweep failed: %s", exc)
            if stop.wait(settings.session_reap_interval_s):
                return

    threading.Thread(target=loop, name="forager-session-reaper", daemon=True).start()
    return stop
