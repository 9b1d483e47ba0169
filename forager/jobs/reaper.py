"""What dead processes left behind, ended by whichever Forager process starts next.

A CLI command, the API or a worker killed with SIGKILL cannot clean up: its containers keep
running and its rows stay ``running``. Every process calls ``reap()`` when it starts: containers
and rows whose owner (``host:pid``, recorded when they were made) is a process of this host that
no longer runs are removed or ended with a clear state. Owners on other hosts are left to
their own host's processes.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def reap() -> dict[str, int]:
    """Reap everything dead owners on this host left: episode containers and the trajectories
    they left ``running``; builds left ``running`` and their containers. Never raises (a missing
    engine or registry only means there is nothing this process can reap now)."""
    from forager.build.owners import reap_dead_owners
    from forager.episode.reaper import reap_orphans

    counts: dict[str, int] = {}
    try:
        counts["episode_containers"] = len(reap_orphans())
    except Exception as exc:  # noqa: BLE001 - start-up must go on whatever the engine or registry says
        log.warning("could not reap dead episodes: %s", exc)
    try:
        reaped = reap_dead_owners()
        counts["builds_failed"], counts["build_containers"] = len(reaped["builds"]), len(reaped["containers"])
    except Exception as exc:  # noqa: BLE001 - likewise: start-up goes on
        log.warning("could not reap dead builds: %s", exc)
    return counts
