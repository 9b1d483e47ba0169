"""Who owns a container or a row: one process of one host, recorded as ``host:pid``.

Build rows and containers, episode containers and trajectories, and job workers carry their owner,
so whatever a process killed with SIGKILL left behind can be found by the next process that starts
on the same host and ended. Owners on other hosts are left to their own host's processes.
"""

from __future__ import annotations

import os
import socket

OWNER_LABEL = "forager.owner"
"""The container label that names a container's owner."""


def this_process() -> str:
    """This process as an owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str | None) -> bool:
    """True when ``owner`` (``host:pid``) is a process of this host that no longer runs. An owner on
    another host, an unreadable one, or a process this one may not signal counts as alive."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
